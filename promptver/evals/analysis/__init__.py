"""What runs mean: comparisons with their statistics, reports (text, JSON, Markdown,
JUnit), model matrices, eval history and its charts."""
