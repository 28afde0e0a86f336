"""TDM tree tools: the initial tree from item categories, a tree from learned item embeddings,
and beam-search retrieval with an exported TDM model."""
