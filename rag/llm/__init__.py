"""LLM backends behind one LangChain chat-model interface."""
