"""Views: text, Markdown and JSON renderings of what ftrun knows and did. They render; they never decide."""
