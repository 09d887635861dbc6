"""LiteLLM's proxy in front of the fake upstream, for the side-by-side runs.

It runs from its own virtual environment (``bench/.litellm-venv``, made by
``bench/litellm.sh``: LiteLLM cannot share the gateway's, it pins other boto3
and openai versions), offline (``LITELLM_LOCAL_MODEL_COST_MAP=True``), with one
worker, and a master key taken from the environment.
"""

from __future__ import annotations

from pathlib import Path

from bench.procs import FAKE_KEY, MODEL, Proc, base_env, free_port, start, wait_ready

CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: http://127.0.0.1:{upstream}/v1
      api_key: {key}
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
litellm_settings:
  drop_params: true
  set_verbose: false
"""


async def start_litellm(venv: Path, key: str, logdir: Path, upstream_port: int) -> Proc:
    port = free_port()
    config = logdir / f"litellm-{port}.yaml"
    config.write_text(CONFIG.format(model=MODEL, upstream=upstream_port, key=FAKE_KEY))
    argv = [str(venv / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--num_workers", "1"]
    env = {
        **base_env(),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": key,
        "LITELLM_LOG": "ERROR",
        "DISABLE_SCHEMA_UPDATE": "True",
    }
    proc = start("litellm", argv, env, port, logdir, logdir)
    await wait_ready(proc, "/health/liveliness", within=180)
    return proc
