"""Peru's places: the departments, and every province and district of the INEI table, as toponyms.

Codes are INEI ubigeo codes (``ubigeo.py``); Lima Metropolitana ("1501") is reported apart from the
rest of the Lima region ("15"). Two kinds of names point to a place:

* **Names the news uses** (``NEWS_NAMES``): departments, cities, provinces and districts that make
  crime news, neighbourhoods and landmarks the table lacks ("Huaycán", "Tingo María", "?Gamarra"),
  and demonyms. They count wherever they appear, and a name shared with a place abroad is settled by
  the rest of the text (``places.resolve``). Each is tied to its table code when the table has the
  name within that department ("?El Porvenir" in La Libertad -> 130102), else to ``=code`` written
  after it, else to the department.
* **Every other province and district of the table**: 2,000 names, many of them also common words,
  surnames or places abroad ("Progreso", "Monzón", "Santa Cruz"). They count only *framed*, after a
  word that introduces a place ("en", "distrito de", "provincia de", "in"...), or in the title.

A ``?`` before a news name makes it framed too: it is also a surname or a common word ("Castilla",
"Ate", "Monzón"). Names written with a capital match only capitalised text ("Comas", the district;
not "comas", commas); lower-case entries (demonyms, "capital peruana") match any case.
"""

from __future__ import annotations

from functools import lru_cache

from pipeline.classify.matcher import split_patterns
from pipeline.classify.text import normalize
from pipeline.classify.ubigeo import LIMA_METROPOLITANA, table, unit

DEPARTMENTS: dict[str, str] = {
    "01": "Amazonas",
    "02": "Áncash",
    "03": "Apurímac",
    "04": "Arequipa",
    "05": "Ayacucho",
    "06": "Cajamarca",
    "07": "Callao",
    "08": "Cusco",
    "09": "Huancavelica",
    "10": "Huánuco",
    "11": "Ica",
    "12": "Junín",
    "13": "La Libertad",
    "14": "Lambayeque",
    "15": "Lima Provincias",
    LIMA_METROPOLITANA: "Lima Metropolitana",
    "16": "Loreto",
    "17": "Madre de Dios",
    "18": "Moquegua",
    "19": "Pasco",
    "20": "Piura",
    "21": "Puno",
    "22": "San Martín",
    "23": "Tacna",
    "24": "Tumbes",
    "25": "Ucayali",
}

# Unit -> names the news uses for places in it. ``=code`` ties a name the table lacks to a province or
# district; names the table has within the unit are tied to their own code automatically.
NEWS_NAMES: dict[str, str] = {
    "01": """Amazonas; amazonense*; Chachapoyas; Bagua; Bagua Grande; Condorcanqui; Utcubamba;
        Santa Maria de ?Nieva=010401; Rodriguez de Mendoza; Cenepa=010402; Imaza; Nieva""",
    "02": """Ancash; ancashin*; Chimbote; chimbotan*; Nuevo Chimbote; Huaraz; huaracin*; Casma; Huarmey;
        Caraz; Carhuaz; Pomabamba; Coishco; Recuay; Chacas; Sihuas; ?Huari; ?Yungay""",
    "03": """Apurimac; apurimen*; Abancay; abanquin*; Andahuaylas; andahuaylin*; Chalhuanca; Chincheros;
        Cotabambas; Challhuahuacho; Antabamba; Aymaraes; Tambobamba; ?Talavera""",
    "04": """Arequipa; arequipen*; Camana; Mollendo; ?Islay; Caylloma; Chivay; Majes; ?Atico; Caraveli;
        ?Chala; Cayma; Paucarpata; ?Cerro Colorado; ?Yura; Characato; Condesuyos; Secocha=040203;
        ?Jacobo Hunter; ?Mariano Melgar; Socabaya; Alto Selva Alegre; Miraflores de Arequipa=040110;
        ?Cercado de Arequipa=040101; Chaparra; Ocona; Yanahuara""",
    "05": """Ayacucho; ayacuchan*; Huamanga; huamanguin*; Huanta; ?La Mar; Llochegua; ?Sivia;
        Canayre; Lucanas; Puquio; Vilcashuaman=051101; Vilcas Huaman; Cangallo; ?Anco;
        ?Ayna; San Miguel de La Mar=050501; ?Carmen Alto; ?Jesus Nazareno; ?Andres Avelino Caceres""",
    "06": """Cajamarca; cajamarquin*; Jaen; jaenos; Chota; Cutervo; Celendin; ?San Ignacio; Bambamarca;
        Cajabamba; Hualgayoc; Santa Cruz de Cajamarca=0613; Banos del Inca""",
    "07": """Callao; chalac*; Ventanilla; ?Bellavista; ?La Perla; ?La Punta; Carmen de la Legua=070103;
        Carmen de la Legua Reynoso; Puerto del Callao=0701; aeropuerto Jorge Chavez=070101;
        Jorge Chavez airport=070101; Pachacutec=070106; ?Mi Peru; Callao Cercado=070101;
        Cercado del Callao=070101""",
    "08": """Cusco; Cuzco; cusquen*; cuzquen*; Quillabamba=080901; ?La Convencion; Echarate; Pichari;
        Kimbiri; Sicuani; ?Espinar; Urubamba; Machu Picchu=081304; ?Calca; Chumbivilcas; Megantoni;
        Villa Kintiarina; Villa Virgen; Wanchaq; ?San Sebastian; ?San Jeronimo; Santiago de Cusco=080106;
        ?Santa Ana; Aguas Calientes=081304; Yauri=080801""",
    "09": """Huancavelica; huancavelican*; Tayacaja; Churcampa; Castrovirreyna; Lircay; Angaraes; ?Pampas""",
    "10": """Huanuco; huanuquen*; Tingo Maria=100601; Leoncio Prado; Aucayacu=100604; ?Monzon; Puerto Inca;
        ?Ambo; Huamalies; Pachitea; Llata; ?Cholon; ?Amarilis; Pillco Marca; Rupa Rupa""",
    "11": """?Ica; iquen*; Chincha; Chincha Alta; ?Pisco; Nasca; Nazca=1103; Palpa; Marcona; Paracas;
        Parcona; Salas ?Guadalupe=110108; La Tinguina; Subtanjalla; Pueblo Nuevo de Chincha=110207;
        Sunampe; Tambo de Mora""",
    "12": """Junin; Huancayo; huancaino*; Satipo; Pichanaki=120303; Pichanaqui; Chanchamayo;
        ?La Merced=120301;
        Tarma; Jauja; La Oroya; Mazamari; Pangoa; ?Rio Tambo; Vizcatan del Ene; Vizcatan=120609; Perene;
        Chupaca; Yauli; ?El Tambo; Chilca de Huancayo=120107""",
    "13": """?La Libertad; liberten*; Trujillo; trujillan*; Pataz; Huamachuco; Otuzco; Chepen; Pacasmayo;
        Viru; Ascope; Sanchez Carrion; El Porvenir; ?La Esperanza; Florencia de Mora;
        Alto Trujillo=130102; Victor Larco=130111; Victor Larco Herrera; Huanchaco; Moche; Parcoy;
        Tayabamba; Retamas=130808; Vijus=1308; Buldibuyo; Julcan; Gran Chimu; Santiago de Chuco;
        Chocope; Paijan; ?Casa Grande; ?Salaverry; ?Laredo; ?Chao; Guadalupe; Quiruvilca; Pias=130809""",
    "14": """Lambayeque; lambayecan*; Chiclayo; chiclayan*; Ferrenafe; Jose Leonardo Ortiz; ?Olmos; Motupe;
        Picsi; Tuman; Pomalca; Monsefu; Mochumi; Tucume; Puerto Eten=140104; Chongoyape; Patapo;
        ?La Victoria de Chiclayo=140106; ?Pimentel; Santa Rosa de Lambayeque=140114; Reque""",
    "15": """region Lima; Lima provincias; Lima Provincia; departamento de Lima; Huaral; Huacho; Huaura;
        Barranca; Canete; San Vicente de Canete; Chancay; Cajatambo; Huarochiri; Matucana; Oyon; Yauyos;
        ?Chilca; Lunahuana; Paramonga; Pativilca; ?Sayan; Jicamarca=150716; ?Mala; Hualmay; ?Supe""",
    LIMA_METROPOLITANA: """Lima; Lima Metropolitana; Lima metropolitan; Metropolitan Lima; Greater Lima;
        Lima Norte; Lima Sur; Lima Este; Lima Centro; Cercado de Lima=150101; Cono Norte; Cono Sur;
        Cono Este; limen*; capital peruana; Peruvian capital; Peru s capital; capital del Peru; ?Ancon;
        ?Ate; Ate Vitarte=150103; Vitarte=150103; Barranco; Brena; Carabayllo;
        Chaclacayo; Chorrillos; Cieneguilla; Comas; El Agustino; ?Independencia; Jesus Maria; La Molina;
        ?La Victoria; Lince; Los Olivos; Lurigancho; Chosica=150118; Lurin; Magdalena del Mar; ?Magdalena;
        ?Miraflores; Pueblo Libre; Pachacamac; Pucusana; Puente Piedra; Punta Hermosa; Punta Negra; Rimac;
        ?San Bartolo; San Borja; ?San Isidro; San Juan de Lurigancho; San Juan de Miraflores; ?San Luis;
        San Martin de Porres; ?San Miguel; Santa Anita; Santa Maria del Mar; Santiago de Surco; Surco=150140;
        Surquillo; Villa El Salvador; Villa Maria del Triunfo; SJL=150132; SMP=150135; VES=150142;
        VMT=150143; SJM=150133; Gamarra=150115; ?Mesa Redonda=150101; Huaycan=150103; Manchay=150123;
        Canto Grande=150132; ?Zarate=150132; Caja de Agua=150132; Mangomarca=150132; Pamplona Alta=150133;
        Collique=150110; Jose Galvez=150143; Tablada de Lurin=150143; Ciudad de Dios=150133;
        Barrios Altos=150101; Mirones=150101; El Agustino Cercado=150111""",
    "16": """Loreto; loretan*; Iquitos; iquiten*; Yurimaguas; Nauta; ?Requena; Caballococha=160401;
        Mariscal Ramon Castilla; Putumayo; Datem del Maranon; Contamana; Santa Rosa de Yavari=160403;
        Punchana; Belen de Iquitos=160112; San Juan Bautista de Iquitos=160113; Maynas; Masusa=160108""",
    "17": """Madre de Dios; Puerto Maldonado=170101; Tambopata; La Pampa=170101; Mazuco=170102; Huepetuhe;
        ?Laberinto; Inambari; ?Manu; Delta 1=170204; ?Iberia; Inapari""",
    "18": """Moquegua; moqueguan*; Ilo; Omate; Cuajone=180106; Quellaveco=180101; Mariscal Nieto""",
    "19": """Pasco; pasquen*; Cerro de Pasco=190101; Oxapampa; Puerto Bermudez; Daniel Alcides Carrion;
        Yanahuanca; ?Villa Rica; Chaupimarca""",
    "20": """Piura; piuran*; Sullana; sullanen*; Talara; Paita; ?Castilla; Veintiseis de Octubre; Catacaos;
        Chulucanas; Ayabaca; Huancabamba; Morropon; Sechura; Tambogrande=200114; Tambo Grande; Mancora;
        ?Los Organos; ?Suyo; ?Las Lomas; Bellavista de Sullana=200602; Marcavelica; ?Ignacio Escudero;
        El Alto de Talara=200702; ?Negritos; ?Vice""",
    "21": """Puno; punen*; Juliaca; juliaquen*; Azangaro; Ayaviri; Desaguadero; Yunguyo; Ilave;
        La Rinconada=211002; Ananea; ?Sandia; Putina; Macusani; Carabaya; Huancane; ?San Roman;
        ?Lampa; Chucuito""",
    "22": """San Martin; sanmartinen*; Tarapoto; tarapotin*; Moyobamba; Juanjui; Tocache; ?Rioja; Saposoa;
        Uchiza; Nueva Cajamarca; ?Picota; Mariscal Caceres; La Banda de Shilcayo;
    Morales de Tarapoto=220910""",
    "23": """Tacna; tacnen*; Tarata; Candarave; ?Jorge Basadre; Challapalca=2304; ?Ciudad Nueva;
        ?Gregorio Albarracin; Alto de la Alianza""",
    "24": """Tumbes; tumbesin*; Zarumilla; Aguas Verdes; Zorritos; Contralmirante Villar;
        Puerto Pizarro=240101;
        ?Corrales; Papayal""",
    "25": """Ucayali; ucayalin*; Pucallpa=250101; pucallpin*; ?Atalaya; Aguaytia=250301; Padre Abad;
        Coronel Portillo;
        Yarinacocha; Manantay; Calleria; ?Campo Verde; Neshuya""",
}

# Areas that span several departments: a mention lists each of them, but never names the place of
# the event (an analyst reads "VRAEM" as the valley, not as one of its departments).
REGIONS: dict[str, tuple[str, ...]] = {
    "VRAEM; VRAE; valle de los rios Apurimac Ene y Mantaro; Apurimac Ene and Mantaro": (
        "03",
        "05",
        "08",
        "09",
        "12",
    ),
    "Alto Huallaga; Upper Huallaga": ("10", "22"),
    "Corredor Minero del Sur; southern mining corridor": ("03", "08"),
}


def _same(a: str, b: str) -> bool:
    return normalize(a).replace("-", " ") == normalize(b).replace("-", " ")


@lru_cache(maxsize=1)
def news_names() -> list[tuple[str, str, bool]]:
    """(pattern, ubigeo code, framed) for every news name, tied to the finest code known."""
    ubigeo = table()
    out = []
    for unit_code, block in NEWS_NAMES.items():
        for raw in split_patterns(block):
            framed = raw.startswith("?")
            raw = raw.lstrip("?")
            pattern, _, code = raw.partition("=")
            pattern = pattern.strip()
            if not code:
                inside = [
                    c
                    for c in ubigeo.by_name.get(normalize(pattern).replace("-", " "), ())
                    if unit(c) == unit_code
                ]
                # A name that is both a province and its capital district is the province (the city);
                # the department's own name is the department ("Arequipa" may be the city or the region).
                code = min(inside, key=len) if inside else unit_code
                if unit_code != LIMA_METROPOLITANA and _same(pattern, ubigeo.departments[unit_code]):
                    code = unit_code
            if unit(code) != unit_code:
                raise ValueError(f"news name {pattern!r}: code {code} is not in unit {unit_code}")
            out.append((pattern, code, framed))
    return out
