"""Evaluation over exported embeddings: LAReQA Mo / Cr / Mul, language bias, baselines."""
