"""The meeting summary of a study in four formats (Markdown, HTML, PDF, PPTX) and two languages."""
