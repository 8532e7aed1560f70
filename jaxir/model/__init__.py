"""The model families (`family`, `families`, one module each: `bert`), the encoder built from them, and
Hugging Face import and export."""
