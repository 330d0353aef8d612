"""documents -> knowledge base: loaders, splitting, embedding, the index store and its CLI."""
