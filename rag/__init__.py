"""question -> cited answer: retrieval, fusion, context packing, prompts and LLM backends."""
