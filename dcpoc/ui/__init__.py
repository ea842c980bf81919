"""What the dashboard pages share: page helpers (the only streamlit import in dcpoc), the string
catalogue (i18n), Altair charts and the Launch form adapter. Importing this folder imports nothing."""
