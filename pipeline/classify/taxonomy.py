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
        strong="""extors*; extort*; cobro de cupo*; cobros de cupo*; pago de cupo*; pagar cupo*; cobrar cupo*;
        cobraban cupo*; cobra cupo*; cupo extorsivo; cupos extorsivos; gota a gota; protection money;
        protection racket*; racketeer*; loan shark*; loansharking; prestamo* gota a gota; cobradores de cupo*;
        carta extorsiva; cartas extorsivas; mensajes extorsivos; llamadas extorsivas""",
        medium="""chantaje*; blackmail*; amenaza* de muerte; death threat*; carta* amenazante*;
        mensajes amenazantes; threatening message*; paro de transportistas; cobro de piso;
        vacuna extorsiva""",
        weak="""transport strike*; cupo diario; pago diario""",
    ),
    Topic(
        "homicide",
        "Homicide and contract killing (sicariato)",
        strong="""sicari*; hitman; hitmen; contract killing*; contract killer*; asesin*; homicid*;
        murder*; shot dead; gunned down; a balazos; balead*; acribill*; balacera*; gunmen; gunman;
        masacre*; massacre*; ajuste de cuentas; feminicid*; femicide*""",
        medium="""disparo*; dispararon; disparo contra; gunshot*; gunfire; mataron; matanza; killing*;
        cadaver*; impactos de bala; shooting*""",
        weak="""victima*; victim*; bala; balas; balazo*; bullet*; killed; shot; muerto*""",
    ),
    Topic(
        "organized_crime",
        "Organized crime and gangs",
        strong="""crimen organizado; organized crime; organised crime; organizacion criminal;
        organizaciones criminales; criminal organization*; criminal organisation*; banda criminal;
        bandas criminales; criminal gang*; red criminal; redes criminales; criminal network*;
        tren de aragua; los pulpos; los injertos; terrorismo urbano; trata de personas; human trafficking;
        trafico de armas; arms trafficking; gun trafficking; cabecilla*; ringleader*; gang leader*""",
        medium="""gang; gangs; pandill*; mafia*; banda; bandas; crime boss*; capo; capos; banda de marcas""",
        weak="""alias; clan""",
    ),
    Topic(
        "kidnapping",
        "Kidnapping",
        strong="""secuestr*; kidnap*; abduct*; secuestro extorsivo; secuestro al paso; pago de rescate;
        ransom; ransoms; ransom demand*""",
        medium="""cautiverio; captivity; rehen; rehenes; hostage*; raptad*; rapto; raptaron; captores;
        captors""",
        weak="""rescate""",
    ),
    Topic(
        "explosive_attack",
        "Explosive attacks (bombs, dynamite, grenades)",
        strong="""artefacto explosivo; artefactos explosivos; explosive device*; dinamita; dynamite;
        cartucho* de
        dinamita; coche bomba; car bomb*; granada de guerra; granadas de guerra; granada de mano;
        hand grenade*;
        grenade*; atentado explosivo; atentado con explosivo*; atentados con explosivo*; bomb attack*;
        bombing*; detonaron; detonacion*; material explosivo; explosivos; explosives; Udex; Unidad de
        Desactivacion de Explosivos; IED""",
        medium="""atentado*; bomba; bombas; bomb; bombs; explosion*; estallido; blast; detono; explosive""",
        weak="""explosivo; deflagracion""",
    ),
    Topic(
        "prisons",
        "Prisons",
        strong="""penal de; penal del; centro penitenciario; centros penitenciarios;
        establecimiento penitenciario; establecimientos penitenciarios; penitenciari*; inpe;
        carcel*; prison*; inmate*; reos; recluso*; requisa*; warden*; jail*; penitentiar*;
        bloqueadores de senal; signal blocker*""",
        medium="""reo; hacinamiento; overcrowd*; pabellon*; penales; cell block*; behind bars;
        tras las rejas""",
        weak="""internos; prision""",
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
        sendero luminoso; shining path; drug cartel*; drug lord*; narcos; narco""",
        medium="""droga*; marihuana; marijuana; estupefaciente*; cocaleros; hoja de coca; coca leaf; coca;
        erradicacion; eradication; devida; corah; fentanyl*; fentanil*; narcotic*; illegal drugs;
        drug seizure*; mochileros""",
        weak="""drug; drugs; cartel*; incautacion; incautaron; incautado*; decomis*; seized; seizure*;
    kilos de""",
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
        interior ministry; security plan; plan de seguridad""",
        medium="""inseguridad; insecurity; criminalidad; codigo penal; penal code""",
        weak="""seguridad; security; penas; public security; seguridad publica""",
    ),
    Topic(
        "corruption",
        "Corruption (reported, but no reason alone to call a text relevant)",
        strong="""corrupcion; corruption; soborno*; bribe*; briber*; coima*; cohecho; colusion; peculado;
        negociacion incompatible; enriquecimiento ilicito; illicit enrichment; trafico de influencias;
        influence peddling; embezzl*; graft; kickback*; Lava Jato; Car Wash probe; Cuellos Blancos;
        procuraduria anticorrupcion; fiscalia anticorrupcion; anticorrupcion; anti corruption""",
        medium="""lavado de activos; money laundering; malversacion; corrupt; corrupto*; corrupta*;
        Odebrecht; Contraloria; sobrecosto*; licitacion amanada""",
        weak="""contralor*; irregularidades""",
    ),
    Topic(
        "general",
        "Crime in general (no topic of its own)",
        strong="""delincuencia; delincuente*; delictiv*; robo; robos; robaron; robarle; robada*; robado*;
        robbery; robberies; robber*; asalt*; criminales; crime; crimes; delito*""",
        medium="""criminal; crimen; violencia; violence; violent*; arma* de fuego; firearm*; hombres armados;
        armed men; hurto*; theft*; terroris*; criminality; delinquen*""",
        weak="""amenaz*; threat*; armados; armed; heridos; ataque*; attack*""",
    ),
)

# Phrases in which a crime or security word means something else ("sistema operativo", "banda ancha",
# "inseguridad alimentaria", "plan de seguridad alimentaria"): a crime term that overlaps one of them
# does not count (see ``sense_entries``). The senses of "security" are also a context
# (``contexts.CONTEXTS["other_security"]``), where they count against the text being about crime.
OTHER_SENSES = """inseguridad alimentaria; seguridad alimentaria; food security; food insecurity; food safety;
    seguridad vial; road safety; traffic safety; seguridad social; social security; seguridad informatica;
    seguridad digital; ciberseguridad; cybersecurity; cyber security; seguridad energetica; energy security;
    seguridad juridica; seguridad hidrica; water security; seguridad y salud en el trabajo; seguridad laboral;
    occupational safety; workplace safety; seguridad sanitaria; bioseguridad; biosecurity; seguridad nuclear;
    nuclear safety; seguridad aerea; aviation safety; flight safety; seguridad del paciente; patient safety;
    seguridad de la informacion; information security; data security; network security; seguridad de datos;
    job security; securities; seguridad en el empleo; seguridad de los alimentos; inocuidad alimentaria;
    seguridad nacional de Estados Unidos; national security adviser; Department of Homeland Security;
    sistema operativo; sistemas operativos; operating system*; capacidad operativa; banda ancha;
    banda presidencial; banda sonora; banda de musica; banda musical; bandas de rock; banda de rock;
    rock band*; brass band; coca cola; heart attack*; panic attack*; ataque cardiaco; ataque de panico;
    ataque al corazon; cardiac arrest; codigo penal militar; denuncia penal; proceso penal; responsabilidad
    penal; causa penal; sancion penal; derecho penal; investigacion penal; juicio penal; accion penal;
    via penal; prision preventiva; pretrial detention; orden de prision; secuestro conservativo; crecimiento
    explosivo; explosive growth; tema explosivo; cartel publicitario; carteles publicitarios; penal shootout;
    tiro penal; tiros penales; definicion por penales; robot*; robotic*; robotica; alias analysis;
    git alias*; security update*; security patch*; security flaw*; security vulnerabilit*; security bug*;
    security researcher*; security audit*; security team*; security concern*; security issue*;
    security model; security feature*; security key*; security token*;
    killer app*; killer feature*; killer whale*; shooting star*; shooting range*"""

TOPIC_IDS: tuple[str, ...] = tuple(topic.id for topic in TOPICS if topic.id != "general")
# Topics whose terms make a text about crime; corruption is reported but counts apart.
CRIME_TOPICS: tuple[str, ...] = tuple(t for t in TOPIC_IDS if t != "corruption")
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


def sense_entries() -> list[Entry]:
    """OTHER_SENSES, in a family of their own: a crime term overlapping one of them does not count."""
    return entries_from("sense", "other_sense", OTHER_SENSES, 0.0)
