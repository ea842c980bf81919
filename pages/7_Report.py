"""Report: the meeting summary of a study, downloaded as Markdown, HTML, PDF or PPTX; the same bytes
as `python -m dcpoc report` (both read the study through load_decision, the price table included;
the page through ui.study_decision, cached like the Overview's and the Decision page's)."""
import streamlit as st

from dcpoc import report
from dcpoc.decision import headline_studies
from dcpoc.ui import page as ui
from dcpoc.ui.i18n import LANGUAGES, t

lang, url = ui.start_page("rep.page_title")
runs = ui.load_runs(url)
studies = [s for s in headline_studies(runs) if s]     # the command line names a study
if not studies:
    st.info(t("rep.no_study", lang))
    st.stop()
c1, c2 = st.columns(2)
study = c1.selectbox(t("col.study", lang), studies)
report_lang = c2.selectbox(t("rep.lang", lang), list(LANGUAGES), index=list(LANGUAGES).index(lang),
                           format_func=LANGUAGES.get)
# a radio row: the formats' names were cut off in a third of the page's width
fmt = st.radio(t("rep.format", lang), report.FORMATS, format_func=lambda f: t(f"rep.format.{f}", lang),
               horizontal=True)
ui.recorded_note(url, [study], lang)

thresholds, target = ui.decision_settings()     # as set on the Decision page in this session
ui.decision_settings_note(lang)
sd = ui.study_decision(url, study, thresholds, target)   # cached, as the Overview's and Decision's
st.markdown(f"**{report.verdict_line(sd.decision, report_lang)}**")
try:
    data = report.render(sd, fmt, report_lang)
except report.ReportError as e:
    st.error(str(e))
    st.stop()
MIME = {"md": "text/markdown", "html": "text/html", "pdf": "application/pdf",
        "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}
name = f"{study}-{report_lang}.{fmt}"
st.download_button(t("rep.download", lang).format(name=name), data, file_name=name, mime=MIME[fmt],
                   icon=ui.DOWNLOAD_ICON, type="primary")
with st.expander(t("rep.preview", lang), expanded=True):   # the summary as it reads, every format's sections
    text = (data if fmt == "md" else report.render(sd, "md", report_lang)).decode()
    st.markdown(text.replace("$", r"\$"))   # Streamlit reads $...$ as LaTeX: the costs are dollars
