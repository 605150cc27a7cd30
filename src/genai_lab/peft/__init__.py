"""Part 1: parameter-efficient fine-tuning, from scratch and with Hugging Face ``peft``."""
