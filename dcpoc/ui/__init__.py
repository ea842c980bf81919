"""What the dashboard pages share:

    page.py         page helpers: sidebar, login gate, cached store and frames (the only Streamlit
                    import in dcpoc)
    i18n.py         the string catalogue in English and Japanese, and number/duration formats
    charts.py       Altair charts
    launch_form.py  the Launch form as plain values: checks, starting points, plan preview

Importing this folder imports only the string catalogue (the CLI and the report use it): never
Streamlit or Altair, so that `python -m dcpoc` stays light."""
from .i18n import LANGUAGES, STRINGS, duration, hours, money, num, t

__all__ = ["LANGUAGES", "STRINGS", "duration", "hours", "money", "num", "t"]
