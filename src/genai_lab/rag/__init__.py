"""Part 3: retrieval-augmented generation. Loaders, chunking, embeddings, vector search, LCEL chains,
advanced retrieval and evaluation."""
