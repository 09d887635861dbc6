"""The model catalogue (docs/api.md#models): models, aliases and Azure deployments.

Each row: id, name, output cap, context window, description, capabilities,
aliases (looked up case-insensitively), whether the model accepts a system block,
whether it is a reasoning model. Output caps are the vendors' documented maxima
for one answer; a context window used as the cap would make every
default request fail upstream.

The capabilities requests are checked against (``tools``, ``vision``,
``json-schema``, ``thinking``; ``domain.content``) come from ``_RICH``, by id:
what Bedrock's table of supported models and model features and Azure's model
cards list. On Bedrock a JSON Schema answer is a forced tool call, so every
Bedrock model that takes tools takes a schema.
"""

from __future__ import annotations

from domain.content import CAP_JSON_SCHEMA, CAP_THINKING, CAP_TOOLS, CAP_VISION
from domain.models import ModelInfo

_TG = "text-generation"
_CG = "code-generation"
_AN = "analysis"
_RE = "reasoning"
_VI = CAP_VISION

_TOOLS = (CAP_TOOLS, CAP_JSON_SCHEMA)
_TOOLS_VISION = (*_TOOLS, CAP_VISION)
_ALL = (*_TOOLS_VISION, CAP_THINKING)
_RICH: dict[str, tuple[str, ...]] = {
    "us.anthropic.claude-3-haiku-20240307-v1:0": _TOOLS_VISION,
    "us.anthropic.claude-3-5-sonnet-20240620-v1:0": _TOOLS_VISION,
    "us.anthropic.claude-3-sonnet-20240229-v1:0": _TOOLS_VISION,
    "us.anthropic.claude-3-opus-20240229-v1:0": _TOOLS_VISION,
    "us.anthropic.claude-3-5-haiku-20241022-v1:0": _TOOLS,
    "us.anthropic.claude-3-5-sonnet-20241022-v2:0": _TOOLS_VISION,
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0": _ALL,
    "us.anthropic.claude-opus-4-20250514-v1:0": _ALL,
    "us.anthropic.claude-opus-4-1-20250805-v1:0": _ALL,
    "us.anthropic.claude-sonnet-4-20250514-v1:0": _ALL,
    "global.anthropic.claude-sonnet-4-20250514-v1:0": _ALL,
    "us.meta.llama3-2-11b-instruct-v1:0": _TOOLS_VISION,
    "us.meta.llama3-2-90b-instruct-v1:0": _TOOLS_VISION,
    "us.meta.llama3-1-8b-instruct-v1:0": _TOOLS,
    "us.meta.llama3-1-70b-instruct-v1:0": _TOOLS,
    "us.meta.llama3-3-70b-instruct-v1:0": _TOOLS,
    "us.meta.llama4-maverick-17b-instruct-v1:0": _TOOLS_VISION,
    "us.meta.llama4-scout-17b-instruct-v1:0": _TOOLS_VISION,
    "us.amazon.nova-premier-v1:0": _TOOLS_VISION,
    "us.amazon.nova-pro-v1:0": _TOOLS_VISION,
    "us.amazon.nova-lite-v1:0": _TOOLS_VISION,
    "us.amazon.nova-micro-v1:0": _TOOLS,
    "us.mistral.pixtral-large-2502-v1:0": _TOOLS_VISION,
    "us.writer.palmyra-x4-v1:0": _TOOLS,
    "us.writer.palmyra-x5-v1:0": _TOOLS,
    "gpt-4.1": _TOOLS_VISION,
    "gpt-4o": _TOOLS_VISION,
    "o4-mini": _ALL,
    "DeepSeek-V3-0324": (CAP_TOOLS,),
    "Llama-3.3-70B-Instruct": (CAP_TOOLS,),
    "grok-3": _TOOLS,
    "mock-1": _ALL,
}


def _m(
    provider: str,
    id: str,
    name: str,
    out: int,
    ctx: int,
    description: str,
    caps: tuple[str, ...],
    aliases: tuple[str, ...] = (),
    *,
    system: bool = True,
    reasoning: bool = False,
) -> ModelInfo:
    return ModelInfo(
        id=id,
        name=name,
        provider=provider,
        max_output_tokens=out,
        context_window=ctx,
        description=description,
        capabilities=(*caps, *(tag for tag in _RICH.get(id, ()) if tag not in caps)),
        aliases=aliases,
        supports_system=system,
        reasoning=reasoning,
    )


def _aws(*args: object, **kwargs: bool) -> ModelInfo:
    return _m("aws", *args, **kwargs)  # type: ignore[arg-type]


def _azure(*args: object, **kwargs: bool) -> ModelInfo:
    return _m("azure", *args, **kwargs)  # type: ignore[arg-type]


_IMAGE = "Stability AI - "

AWS_MODELS: tuple[ModelInfo, ...] = (
    _aws(
        "us.anthropic.claude-3-haiku-20240307-v1:0",
        "Claude 3 Haiku",
        4096,
        200000,
        "Claude 3 Haiku - Fast and efficient",
        (_TG, _CG),
        ("claude-3-haiku", "claude 3 haiku", "anthropic.claude-3-haiku-20240307-v1:0"),
    ),
    _aws(
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "Claude 3.5 Sonnet",
        8192,
        200000,
        "Claude 3.5 Sonnet - Advanced capabilities",
        (_TG, _CG, _AN),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0",),
    ),
    _aws(
        "us.anthropic.claude-3-sonnet-20240229-v1:0",
        "Claude 3 Sonnet",
        4096,
        200000,
        "Claude 3 Sonnet - Balanced performance",
        (_TG, _CG, _AN),
        ("claude-3-sonnet", "claude 3 sonnet", "anthropic.claude-3-sonnet-20240229-v1:0"),
    ),
    _aws(
        "us.anthropic.claude-3-opus-20240229-v1:0",
        "Claude 3 Opus",
        4096,
        200000,
        "Claude 3 Opus - Most capable Claude 3 model",
        (_TG, _CG, _AN, _RE),
        ("claude-3-opus", "claude 3 opus", "anthropic.claude-3-opus-20240229-v1:0"),
    ),
    _aws(
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "Claude 3.5 Haiku",
        8192,
        200000,
        "Claude 3.5 Haiku - Fast with improved capabilities",
        (_TG, _CG),
        ("claude-3-5-haiku", "claude 3.5 haiku"),
    ),
    _aws(
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "Claude 3.5 Sonnet v2",
        8192,
        200000,
        "Claude 3.5 Sonnet v2 - Latest Sonnet version",
        (_TG, _CG, _AN, _VI),
        ("claude-3-5-sonnet", "claude 3.5 sonnet"),
    ),
    _aws(
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "Claude 3.7 Sonnet",
        64000,
        200000,
        "Claude 3.7 Sonnet - Enhanced reasoning",
        (_TG, _CG, _AN, _RE),
        ("claude-3-7-sonnet", "claude 3.7 sonnet"),
    ),
    _aws(
        "us.anthropic.claude-opus-4-20250514-v1:0",
        "Claude Opus 4",
        32000,
        200000,
        "Claude Opus 4 - Next generation Opus",
        (_TG, _CG, _AN, _RE, _VI),
        ("claude-opus-4", "claude opus 4"),
    ),
    _aws(
        "us.anthropic.claude-opus-4-1-20250805-v1:0",
        "Claude Opus 4.1",
        32000,
        200000,
        "Claude Opus 4.1 - Latest Opus version",
        (_TG, _CG, _AN, _RE, _VI),
        ("claude-opus-4-1", "claude opus 4.1"),
    ),
    _aws(
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        "Claude Sonnet 4",
        64000,
        200000,
        "Claude Sonnet 4 - Next generation Sonnet",
        (_TG, _CG, _AN, _RE),
        ("claude-sonnet-4", "claude sonnet 4"),
    ),
    _aws(
        "us.meta.llama3-2-11b-instruct-v1:0",
        "Llama 3.2 11B Instruct",
        2048,
        128000,
        "Meta Llama 3.2 11B Instruct",
        (_TG, _CG),
        ("llama-3-2-11b", "llama 3.2 11b"),
    ),
    _aws(
        "us.meta.llama3-2-90b-instruct-v1:0",
        "Llama 3.2 90B Instruct",
        2048,
        128000,
        "Meta Llama 3.2 90B Instruct",
        (_TG, _CG, _AN),
        ("llama-3-2-90b", "llama 3.2 90b"),
    ),
    _aws(
        "us.meta.llama3-2-3b-instruct-v1:0",
        "Llama 3.2 3B Instruct",
        2048,
        128000,
        "Meta Llama 3.2 3B Instruct",
        (_TG,),
        ("llama-3-2-3b", "llama 3.2 3b"),
    ),
    _aws(
        "us.meta.llama3-2-1b-instruct-v1:0",
        "Llama 3.2 1B Instruct",
        2048,
        128000,
        "Meta Llama 3.2 1B Instruct",
        (_TG,),
        ("llama-3-2-1b", "llama 3.2 1b"),
    ),
    _aws(
        "us.meta.llama3-1-8b-instruct-v1:0",
        "Llama 3.1 8B Instruct",
        2048,
        128000,
        "Meta Llama 3.1 8B Instruct",
        (_TG, _CG),
        ("llama-3-1-8b", "llama 3.1 8b"),
    ),
    _aws(
        "us.meta.llama3-1-70b-instruct-v1:0",
        "Llama 3.1 70B Instruct",
        2048,
        128000,
        "Meta Llama 3.1 70B Instruct",
        (_TG, _CG, _AN),
        ("llama-3-1-70b", "llama 3.1 70b"),
    ),
    _aws(
        "us.meta.llama3-3-70b-instruct-v1:0",
        "Llama 3.3 70B Instruct",
        2048,
        128000,
        "Meta Llama 3.3 70B Instruct",
        (_TG, _CG, _AN),
        ("llama-3-3-70b", "llama 3.3 70b"),
    ),
    _aws(
        "us.meta.llama4-maverick-17b-instruct-v1:0",
        "Llama 4 Maverick 17B",
        8192,
        128000,
        "Meta Llama 4 Maverick 17B Instruct",
        (_TG, _CG),
    ),
    _aws(
        "us.meta.llama4-scout-17b-instruct-v1:0",
        "Llama 4 Scout 17B",
        8192,
        128000,
        "Meta Llama 4 Scout 17B Instruct",
        (_TG, _CG),
    ),
    _aws(
        "us.amazon.nova-premier-v1:0",
        "Nova Premier",
        32000,
        1000000,
        "Amazon Nova Premier - Most capable Nova model",
        (_TG, _CG, _AN, _RE, _VI),
        ("nova-premier", "nova premier"),
    ),
    _aws(
        "us.amazon.nova-pro-v1:0",
        "Nova Pro",
        10000,
        300000,
        "Amazon Nova Pro - Professional grade",
        (_TG, _CG, _AN, _VI),
        ("nova-pro", "nova pro"),
    ),
    _aws(
        "us.amazon.nova-micro-v1:0",
        "Nova Micro",
        10000,
        128000,
        "Amazon Nova Micro - Fastest Nova model",
        (_TG,),
        ("nova-micro", "nova micro"),
    ),
    _aws(
        "us.amazon.nova-lite-v1:0",
        "Nova Lite",
        10000,
        300000,
        "Amazon Nova Lite - Efficient and capable",
        (_TG, _CG, _VI),
        ("nova-lite", "nova lite"),
    ),
    _aws(
        "us.deepseek.r1-v1:0",
        "DeepSeek R1",
        32768,
        128000,
        "DeepSeek R1 - Advanced reasoning model",
        (_TG, _CG, _RE, _AN),
        ("deepseek r1",),
    ),
    _aws(
        "us.mistral.pixtral-large-2502-v1:0",
        "Pixtral Large 25.02",
        8192,
        128000,
        "Mistral Pixtral Large 25.02 - Multimodal model",
        (_TG, _CG, _VI, _AN),
        ("pixtral-large", "pixtral large"),
    ),
    _aws("us.writer.palmyra-x4-v1:0", "Palmyra X4", 8192, 128000, "Writer Palmyra X4", (_TG, _CG)),
    _aws("us.writer.palmyra-x5-v1:0", "Palmyra X5", 8192, 1000000, "Writer Palmyra X5", (_TG, _CG, _AN)),
    _aws(
        "us.twelvelabs.pegasus-1-2-v1:0",
        "Pegasus v1.2",
        4096,
        8192,
        "TwelveLabs Pegasus v1.2 - Video understanding (needs a video input)",
        ("video-analysis", _TG),
        system=False,
    ),
    _aws(
        "us.stability.stable-image-control-sketch-v1:0",
        "Stable Image Control Sketch",
        0,
        0,
        _IMAGE + "Sketch to image",
        ("image-generation", "sketch-to-image"),
    ),
    _aws(
        "us.stability.stable-image-control-structure-v1:0",
        "Stable Image Control Structure",
        0,
        0,
        _IMAGE + "Structure control",
        ("image-generation", "structure-control"),
    ),
    _aws(
        "us.stability.stable-image-erase-object-v1:0",
        "Stable Image Erase Object",
        0,
        0,
        _IMAGE + "Object removal",
        ("image-editing", "object-removal"),
    ),
    _aws(
        "us.stability.stable-image-inpaint-v1:0",
        "Stable Image Inpaint",
        0,
        0,
        _IMAGE + "Image inpainting",
        ("image-editing", "inpainting"),
    ),
    _aws(
        "us.stability.stable-image-remove-background-v1:0",
        "Stable Image Remove Background",
        0,
        0,
        _IMAGE + "Background removal",
        ("image-editing", "background-removal"),
    ),
    _aws(
        "us.stability.stable-image-search-recolor-v1:0",
        "Stable Image Search and Recolor",
        0,
        0,
        _IMAGE + "Search and recolor",
        ("image-editing", "recoloring"),
    ),
    _aws(
        "us.stability.stable-image-search-replace-v1:0",
        "Stable Image Search and Replace",
        0,
        0,
        _IMAGE + "Search and replace",
        ("image-editing", "object-replacement"),
    ),
    _aws(
        "us.stability.stable-image-style-guide-v1:0",
        "Stable Image Style Guide",
        0,
        0,
        _IMAGE + "Style guide",
        ("image-generation", "style-transfer"),
    ),
    _aws(
        "us.stability.stable-style-transfer-v1:0",
        "Stable Style Transfer",
        0,
        0,
        _IMAGE + "Style transfer",
        ("image-editing", "style-transfer"),
    ),
    _aws(
        "amazon.titan-text-express-v1",
        "Titan Text Express",
        8192,
        8192,
        "Amazon Titan Text Express",
        (_TG,),
        ("titan-express", "titan text express"),
        system=False,
    ),
    _aws(
        "global.anthropic.claude-sonnet-4-20250514-v1:0",
        "Claude Sonnet 4 (Global)",
        64000,
        200000,
        "Claude Sonnet 4 - Global cross-region",
        (_TG, _CG, _AN, _RE),
    ),
)

AZURE_MODELS: tuple[ModelInfo, ...] = (
    _azure(
        "DeepSeek-R1",
        "DeepSeek R1",
        32768,
        128000,
        "DeepSeek R1 - Advanced reasoning model",
        (_TG, _CG, _RE, _AN),
        ("deepseek-r1",),
    ),
    _azure(
        "DeepSeek-R1-0528",
        "DeepSeek R1 0528",
        32768,
        128000,
        "DeepSeek R1 0528 version",
        (_TG, _CG, _RE, _AN),
        ("deepseek-r1-0528",),
    ),
    _azure(
        "DeepSeek-V3-0324",
        "DeepSeek V3 0324",
        8192,
        128000,
        "DeepSeek V3 0324 version",
        (_TG, _CG, _RE),
        ("deepseek-v3", "deepseek-v3-0324"),
    ),
    _azure("gpt-4.1", "GPT-4.1", 32768, 1047576, "GPT-4.1 - Latest GPT-4.1 version (2025-04-14)", (_TG, _CG, _AN, _RE)),
    _azure(
        "gpt-4o", "GPT-4o", 16384, 128000, "GPT-4o - Optimized GPT-4 (2024-11-20)", (_TG, _CG, _VI, _AN), ("gpt4o",)
    ),
    _azure(
        "gpt-5-chat",
        "GPT-5 Chat",
        16384,
        128000,
        "GPT-5 Chat - Next generation chat model",
        (_TG, _CG, _RE, _AN),
        ("gpt5-chat",),
        reasoning=True,
    ),
    _azure(
        "o4-mini",
        "O4 Mini",
        100000,
        200000,
        "O4 Mini - Efficient reasoning model",
        (_TG, _CG, _RE),
        ("o4mini",),
        reasoning=True,
    ),
    _azure(
        "Llama-3.3-70B-Instruct",
        "Llama 3.3 70B Instruct",
        8192,
        128000,
        "Meta's Llama 3.3 70B Instruct model",
        (_TG, _CG, "instruction-following"),
        ("llama-3.3-70b", "llama-3.3-70b-instruct"),
    ),
    _azure("grok-3", "Grok 3", 16384, 131072, "Grok 3 - xAI's advanced model", (_TG, _CG, _RE, "humor"), ("grok3",)),
)

MOCK_MODELS: tuple[ModelInfo, ...] = (
    _m(
        "mock",
        "mock-1",
        "Mock 1",
        4096,
        32768,
        "Offline deterministic model: answers from the prompt, streams word by word",
        (_TG,),
        ("mock",),
    ),
    _m(
        "mock",
        "mock-text-1",
        "Mock Text 1",
        4096,
        32768,
        "Offline deterministic model that takes text only: no tools, images, JSON Schema or reasoning",
        (_TG,),
        ("mock-text",),
    ),
)

# Where a request names no model, each provider answers with its default.
DEFAULT_MODELS: dict[str, str] = {
    "aws": "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "azure": "gpt-4.1",
    "mock": "mock-1",
}
