"""The Peru-security taxonomy: topics, their Spanish and English terms, and how much each term weighs.

Every term is written accent-free and lower-case (matching folds both); ``*`` marks a prefix. Terms
come in three tiers: *strong* ones name the subject outright (``extorsion``, ``sicariato``), *medium*
ones usually mean it in the news (``banda``, ``operativo``), *weak* ones only add to other evidence
(``policia``, ``seguridad``). A term belongs to one topic; ``general`` holds crime words that belong
to no topic in particular ("delincuencia", "crime"): they count as crime but name no topic.

Topics describe the security subjects a text is about, whoever it is about; whether the text is about
*Peru* is the model's question, not the taxonomy's.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.classify.matcher import Entry, entries_from

STRONG, MEDIUM, WEAK = 1.0, 0.5, 0.25


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    label: str
    strong: str = ""
    medium: str = ""
    weak: str = ""


TOPICS: tuple[Topic, ...] = (
    Topic(
        "extortion",
        "Extortion and protection rackets",
        strong="""extors*; extort*; cobro de cupo*; cobros de cupo*; pago de cupo*; pagar cupo*;
        cupo extorsivo; gota a gota; protection money; protection racket*; racketeer*; loan shark*;
        loansharking; prestamo* gota a gota; cobradores de cupo*""",
        medium="""chantaje*; blackmail*; amenaza* de muerte; death threat*; carta* amenazante*;
        mensajes amenazantes; threatening message*; paro de transportistas; transport strike*;
        cupos; cupo""",
    ),
    Topic(
        "homicide",
        "Homicide and contract killing (sicariato)",
        strong="""sicari*; hitman; hitmen; contract killing*; contract killer*; asesin*; homicid*;
        murder*; shot dead; gunned down; a balazos; balead*; acribill*; balacera*; gunmen; gunman;
        masacre*; massacre*; ajuste de cuentas; feminicid*; femicide*""",
        medium="""disparo*; dispararon; disparo contra; gunshot*; gunfire; shooting*; mataron;
        matanza; killing*; cadaver*; shot""",
        weak="""victima*; victim*; bala*; bullet*; killed""",
    ),
    Topic(
        "organized_crime",
        "Organized crime and gangs",
        strong="""crimen organizado; organized crime; organised crime; organizacion criminal;
        organizaciones criminales; criminal organization*; criminal organisation*; banda criminal;
        bandas criminales; criminal gang*; red criminal; redes criminales; criminal network*;
        tren de aragua; los pulpos; los injertos; terrorismo urbano; lavado de activos;
        money laundering; trata de personas; human trafficking; trafico de armas; arms trafficking;
        gun trafficking; cabecilla*; ringleader*; gang leader*""",
        medium="""gang; gangs; pandill*; mafia*; banda; bandas; clan; alias; crime boss*; capo*""",
    ),
    Topic(
        "prisons",
        "Prisons",
        strong="""penal de; penal del; centro penitenciario; centros penitenciarios;
        establecimiento penitenciario; establecimientos penitenciarios; penitenciari*; inpe;
        carcel*; prison*; inmate*; reos; recluso*; requisa*; warden*; jail*; penitentiar*;
        bloqueadores de senal; signal blocker*""",
        medium="""prision; reo; internos; hacinamiento; overcrowd*; pabellon*; penales; cell block*;
        behind bars; tras las rejas""",
    ),
    Topic(
        "illegal_mining",
        "Illegal mining",
        strong="""mineria ilegal; mineros ilegales; minero ilegal; mineria criminal; illegal mining;
        illegal miner*; illegal gold; oro ilegal; wildcat miner*; mineria aurifera ilegal;
        mineria informal e ilegal; dragas ilegales""",
        medium="""mineria informal; mineros informales; informal miner*; informal mining; reinfo;
        socavon*; dragas; mining gang*; contrabando de oro; gold smuggling""",
    ),
    Topic(
        "drug_trafficking",
        "Drug trafficking",
        strong="""narcotrafic*; narcotraffic*; drug trafficking; drug trafficker*; trafico ilicito de drogas;
        cocain*; pasta basica; narcoterror*; narco terror*; narcoavioneta*; narco plane*; dirandro;
        pozas de maceracion; maceration pit*; microcomercializ*; burrier*; drug mule*;
        sendero luminoso; shining path; drug cartel*; drug lord*; narcos; narco; mochileros""",
        medium="""droga*; marihuana; marijuana; estupefaciente*; cartel*; coca; cocaleros; cocal*;
        hoja de coca; coca leaf; erradicacion; eradication; devida; corah; fentanyl*; fentanil*;
        narcotic*; drugs; drug seizure*""",
        weak="""drug; incautacion; incautaron; incautado*; decomis*; seized; seizure*; kilos de""",
    ),
    Topic(
        "state_of_emergency",
        "State of emergency against crime",
        strong="""estado de emergencia; state of emergency; states of emergency; estados de emergencia;
        declaratoria de emergencia; declarar en emergencia; declaro en emergencia;
        emergency declaration""",
        medium="""toque de queda; curfew*; estado de excepcion; state of exception; regimen de excepcion;
        suspension de derechos; emergency decree""",
    ),
    Topic(
        "police_operations",
        "Police and military operations",
        strong="""megaoperativo*; mega operativo*; intervencion policial; intervenciones policiales;
        operativo policial; operativos policiales; police operation*; police raid*; allanamiento*;
        allanaron; allanan; allano; desarticul*; dirincri; dircote; divincri; depincri; diviac; dirin; pnp;
        joint operation*; operacion conjunta; operaciones conjuntas; efectivos policiales;
        agentes policiales; crackdown*""",
        medium="""operativo; operativos; detenid*; detain*; capturad*; arrest*; arrestad*; raid; raids;
        patrullaje*; patrol*; serenazgo; sucamec; flagrancia; capturaron; captura de; dismantl*;
        fuerzas armadas; armed forces; mano dura""",
        weak="""policia*; police; policemen; police officer*; comisaria*; agentes; efectivos;
        militares; military; soldiers; troops; fiscalia; prosecutor*; intervenidos""",
    ),
    Topic(
        "security_policy",
        "Security policy and plans",
        strong="""seguridad ciudadana; citizen security; citizen safety; inseguridad ciudadana;
        plan nacional de seguridad; conasec; codisec; coresec; mininter; barrio seguro;
        lucha contra la delincuencia; lucha contra el crimen; lucha contra la criminalidad;
        fight against crime; war on crime; combat crime; tackle crime; tackling crime; crime wave;
        ola de criminalidad; ola delictiva; crisis de inseguridad; security crisis;
        ministro del interior; ministra del interior; ministerio del interior; interior minister*;
        interior ministry; security plan; national security plan; plan de seguridad""",
        medium="""inseguridad; insecurity; criminalidad; codigo penal; penal code; national security""",
        weak="""seguridad; security; penas; safety; public security; seguridad publica""",
    ),
    Topic(
        "general",
        "Crime in general (no topic of its own)",
        strong="""delincuencia; delincuente*; delictiv*; atentado*; secuestr*; kidnap*; robo*; robbery;
        robberies; robber*; asalt*; criminales; crime; crimes; delito*""",
        medium="""criminal; crimen; violencia; violence; violent*; ataque*; attack*; explosiv*; dinamita;
        granada*; arma* de fuego; firearm*; hombres armados; armed men; hurto*; theft*; terroris*;
        criminality; delinquen*""",
        weak="""amenaz*; threat*; armados; armed; heridos""",
    ),
)

TOPIC_IDS: tuple[str, ...] = tuple(topic.id for topic in TOPICS if topic.id != "general")
TOPIC_LABELS: dict[str, str] = {topic.id: topic.label for topic in TOPICS}

# A topic is reported when its terms weigh at least this much: a strong term in the title (weight
# 2), or two in the text, or one with other terms of the topic. One passing mention in the body
# ("...as during the last state of emergency") does not make a topic.
TOPIC_MIN_WEIGHT = 2.0


def topic_entries() -> list[Entry]:
    entries: list[Entry] = []
    for topic in TOPICS:
        for block, weight in ((topic.strong, STRONG), (topic.medium, MEDIUM), (topic.weak, WEAK)):
            entries.extend(entries_from("topic", topic.id, block, weight))
    return entries
