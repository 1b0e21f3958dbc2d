"""A child's case, its members and their roles, caregiver grants, therapy periods."""
