"""The systolic-array family."""
