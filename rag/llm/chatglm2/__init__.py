"""ChatGLM2-6B from local weights as a native transformers GlmForCausalLM (no remote code).

Importing this package is cheap: torch and transformers are imported inside the functions that
need them. Public API:

    load_chatglm2(path, device=None, dtype=None, quantization="none") -> (model, tokenizer)
    ChatGLM2Tokenizer(tokenizer_model_path)
    ChatGLM2Chat(model=..., tokenizer=...)          LangChain chat model, streams tokens
    chatglm2_prompt_ids(tokenizer, messages)        the exact ids fed to the model
    chatglm2_handle(settings) -> LLMHandle
"""

from rag.llm.chatglm2.chat_model import ChatGLM2Chat, chatglm2_prompt_ids, split_messages
from rag.llm.chatglm2.checkpoint import CheckpointInfo, glm_config, inspect_checkpoint, resolve_model_dir
from rag.llm.chatglm2.generate import GenerationResult, generate_ids, sample_next, stream_text
from rag.llm.chatglm2.handle import chatglm2_handle
from rag.llm.chatglm2.loader import MemoryEstimate, estimate_memory, load_chatglm2
from rag.llm.chatglm2.tokenizer import ChatGLM2Tokenizer, build_prompt

__all__ = [
    "ChatGLM2Chat",
    "ChatGLM2Tokenizer",
    "CheckpointInfo",
    "GenerationResult",
    "MemoryEstimate",
    "build_prompt",
    "chatglm2_handle",
    "chatglm2_prompt_ids",
    "estimate_memory",
    "generate_ids",
    "glm_config",
    "inspect_checkpoint",
    "load_chatglm2",
    "resolve_model_dir",
    "sample_next",
    "split_messages",
    "stream_text",
]
