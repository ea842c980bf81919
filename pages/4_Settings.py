"""Settings: the $ per device-hour price table, the default device, the database in use, language."""
import streamlit as st

from dcpoc.ui import page as ui
from dcpoc.config import DEVICES
from dcpoc.costs import DEFAULT_PRICES_USD_PER_HOUR, PriceError, parse_price
from dcpoc.ui.i18n import t
from dcpoc.runs import StoreError
from dcpoc.security import hide_url_password

lang, url = ui.start_page("settings.title")
store = ui.store(url)
settings = ui.load_settings(url)


def save_setting(key: str, value: object) -> bool:
    """Store one setting; a database that is locked or read-only is said in one line."""
    try:
        store.set_setting(key, value)
    except StoreError as e:
        st.error(str(e))
        return False
    ui.changed()
    return True


st.subheader(t("settings.prices", lang))
st.caption(t("settings.prices_help", lang))
with st.form("prices"):
    columns = st.columns(len(DEFAULT_PRICES_USD_PER_HOUR))
    typed = {kind: column.number_input(t(f"settings.kind.{kind}", lang), min_value=0.0, step=0.05,
                                       format="%.2f",
                                       value=float(settings["prices"].get(kind, default)))
             for column, (kind, default) in zip(columns, DEFAULT_PRICES_USD_PER_HOUR.items())}
    save = st.form_submit_button(t("settings.save", lang), type="primary")
    reset = st.form_submit_button(t("settings.reset", lang))
if save:
    try:
        prices = dict(parse_price(f"{k}={v}") for k, v in typed.items())
    except PriceError as e:
        st.error(str(e))
    else:
        if save_setting("prices", prices):
            st.success(t("settings.saved", lang))
if reset and save_setting("prices", {}):
    st.rerun()

st.subheader(t("settings.device", lang))
device = st.selectbox(t("settings.device_label", lang), DEVICES,
                      index=DEVICES.index(settings["default_device"])
                      if settings["default_device"] in DEVICES else 0,
                      format_func=lambda d: t(f"settings.device.{d}", lang))
if device != settings["default_device"]:
    save_setting("default_device", device)

st.subheader(t("settings.database", lang))
st.code(hide_url_password(url), language=None)
st.caption(t("settings.database_help", lang))

st.subheader(t("settings.language", lang))
ui.language_selector(t("settings.language_label", lang), where=st)
