"""The Flax encoder (BERT / XLM-R family) and Hugging Face import and export."""
