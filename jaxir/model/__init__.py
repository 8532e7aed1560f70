"""Model families (`family`, `families`, one module each, e.g. `bert`), the encoder built from them, and Hugging Face import and export."""
