"""A lab's own model, dataset and task, as a user would package them for nnstudy."""
