"""In the scoring kernel: rebuild a student's model from its description; no student code here."""
