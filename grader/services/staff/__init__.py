"""What TAs and instructors see and do: dashboard, charts, gradebook, free-response queue,
manual scores."""
