"""People: accounts, passwords, enrolments with a role per course, sessions and API tokens,
roster imports."""
