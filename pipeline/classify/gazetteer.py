"""Peru's departments, Lima Metropolitana and Callao, and the places that point to each.

Codes are INEI ubigeo department codes: 01 Amazonas ... 25 Ucayali, with 07 Callao and 15 Lima.
Lima Metropolitana (the province of Lima, INEI 1501) is its own unit because most Lima news is about
the capital; 15 then stands for the rest of the Lima region ("Lima Provincias").

Aliases use the markers of ``pipeline.classify.matcher``: ``^`` the words must be capitalised (the
name is also a common word: "Comas", "Ate", "Barranco"), ``?`` the name counts only when the text is
otherwise about Peru (it is also a place abroad or a person: "La Libertad" is a department of El
Salvador, "Amazonas" a state of Brazil, "San Martín" a street in every city). Longer names win over
the names inside them: "San Martín de Porres" is a Lima district, "San Martín" a department.
"""

from __future__ import annotations

from pipeline.classify.matcher import Entry, entries_from

LIMA_METROPOLITANA = "1501"

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

# Department -> the names that point to it: the department itself, its provinces, cities and districts
# that make the news, and demonyms.
ALIASES: dict[str, str] = {
    "01": """?Amazonas; Chachapoyas; Bagua; Bagua Grande; Condorcanqui; Utcubamba; Santa Maria de Nieva;
        Rodriguez de Mendoza; Cenepa""",
    "02": """Ancash; Chimbote; Nuevo Chimbote; Huaraz; Casma; Huarmey; Caraz; Carhuaz; Pomabamba; Coishco;
        Recuay; Chacas; Sihuas; ^?Huari; ^?Yungay""",
    "03": """Apurimac; Abancay; Andahuaylas; Chalhuanca; Chincheros; Cotabambas; Challhuahuacho;
        Antabamba; Aymaraes; Tambobamba""",
    "04": """Arequipa; arequipen*; Camana; Mollendo; Islay; Caylloma; Chivay; Majes; ^?Atico; Caraveli;
        ^?Chala; Cayma; Paucarpata; Cerro Colorado; Yura; Characato; Condesuyos; Secocha""",
    "05": """Ayacucho; ayacuchan*; Huamanga; Huanta; ^?La Mar; Llochegua; ^?Sivia; Pichiwillca; Canayre;
        Lucanas; Puquio; Vilcashuaman; Cangallo; Anco; Ayna""",
    "06": """?Cajamarca; cajamarquin*; ^?Jaen; Chota; Cutervo; Celendin; ^?San Ignacio; Bambamarca;
        Cajabamba; Hualgayoc; Santa Cruz de Chota""",
    "07": """Callao; chalac*; Ventanilla; ^?Bellavista; ^?La Perla; ^?La Punta; Carmen de la Legua;
        Puerto del Callao; aeropuerto Jorge Chavez; Jorge Chavez airport; Pachacutec""",
    "08": """Cusco; Cuzco; cusquen*; cuzquen*; Quillabamba; ^?La Convencion; Echarate; Pichari; Kimbiri;
        Sicuani; Espinar; Urubamba; Machu Picchu; Calca; Chumbivilcas; Megantoni; Villa Kintiarina;
        Villa Virgen""",
    "09": """Huancavelica; Tayacaja; Churcampa; Castrovirreyna; Lircay; Angaraes""",
    "10": """Huanuco; huanuquen*; Tingo Maria; Leoncio Prado; Aucayacu; ^?Monzon; Puerto Inca;
        ^?Ambo; Huamalies; Pachitea; Llata; Cholon""",
    "11": """^?Ica; iquen*; Chincha; Chincha Alta; ^?Pisco; Nasca; Nazca; Palpa; Marcona; Paracas;
        Parcona; Salas Guadalupe""",
    "12": """^?Junin; Huancayo; huancaino*; Satipo; Pichanaki; Pichanaqui; Chanchamayo; ^?La Merced;
        Tarma; Jauja; La Oroya; Mazamari; Pangoa; Rio Tambo; Vizcatan del Ene; Vizcatan; Perene;
        Chupaca; Yauli""",
    "13": """^?La Libertad; ^Trujillo; trujillan*; Pataz; Huamachuco; Otuzco; Chepen; Pacasmayo; ^Viru;
        Ascope; Sanchez Carrion; ^?El Porvenir; ^?La Esperanza; Florencia de Mora; Alto Trujillo;
        Victor Larco; Huanchaco; ^?Moche; Parcoy; Tayabamba; Retamas; Vijus; Buldibuyo; Julcan;
        Gran Chimu; Santiago de Chuco; Chocope; Paijan; Casa Grande""",
    "14": """Lambayeque; Chiclayo; chiclayan*; Ferrenafe; Jose Leonardo Ortiz; Olmos; Motupe; Picsi;
        Tuman; Pomalca; Monsefu; Mochumi; Tucume; Puerto Eten; Chongoyape; Patapo""",
    "15": """region Lima; Lima provincias; departamento de Lima; Huaral; Huacho; Huaura; ^?Barranca;
        Canete; San Vicente de Canete; Chancay; Cajatambo; Huarochiri; Matucana; Oyon; Yauyos;
        Chilca; Lunahuana; Paramonga; Pativilca; Sayan; Jicamarca""",
    LIMA_METROPOLITANA: """^Lima; Lima Metropolitana; Lima metropolitan*; Metropolitan Lima; Greater Lima;
        Lima Norte; Lima Sur; Lima Este; Lima Centro; Cercado de Lima; ^Cono Norte; ^Cono Sur;
        ^Cono Este; limen*; capital peruana; Peruvian capital; Peru s capital; capital del Peru;
        Municipalidad de Lima; ^Ancon; ^?Ate; Ate Vitarte; ^Barranco; Brena; Carabayllo;
        Chaclacayo; Chorrillos; Cieneguilla; ^Comas; El Agustino; ^?Independencia; Jesus Maria;
        La Molina; ^?La Victoria; ^Lince; Los Olivos; Lurigancho; Chosica; Lurin; Magdalena del Mar;
        ^?Miraflores; ^Pueblo Libre; Pachacamac; Pucusana; Puente Piedra; Punta Hermosa; Punta Negra;
        Rimac; ^?San Bartolo; San Borja; ^?San Isidro; San Juan de Lurigancho; San Juan de Miraflores;
        ^?San Luis; San Martin de Porres; ^?San Miguel; Santa Anita; Santa Maria del Mar;
        Santiago de Surco; Surco; Surquillo; Villa El Salvador; Villa Maria del Triunfo; ^SJL; ^SMP;
        ^VES; ^VMT; ^SJM; Gamarra; Mesa Redonda; Huaycan; Manchay; Canto Grande; Zarate;
        Caja de Agua; Mangomarca; Pamplona Alta; Collique""",
    "16": """?Loreto; loretan*; Iquitos; Yurimaguas; Nauta; ^?Requena; Caballococha;
        Mariscal Ramon Castilla; ?Putumayo; Datem del Maranon; Contamana; Santa Rosa de Yavari;
        Punchana; Belen de Iquitos""",
    "17": """^Madre de Dios; Puerto Maldonado; Tambopata; ^?La Pampa; Mazuco; Huepetuhe; ^?Laberinto;
        Inambari; ^?Manu; Delta 1""",
    "18": """Moquegua; ^?Ilo; Omate; Cuajone; Quellaveco""",
    "19": """?Pasco; Cerro de Pasco; Oxapampa; Puerto Bermudez; Daniel Alcides Carrion; Yanahuanca""",
    "20": """Piura; piuran*; Sullana; Talara; Paita; ^?Castilla; Veintiseis de Octubre; Catacaos;
        Chulucanas; Ayabaca; Huancabamba; Morropon; Sechura; Tambogrande; Mancora; Los Organos;
        Suyo; Las Lomas""",
    "21": """Puno; punen*; Juliaca; Azangaro; Ayaviri; Desaguadero; Yunguyo; Ilave; ^?La Rinconada;
        Ananea; ^?Sandia; Putina; Macusani; Carabaya; Huancane""",
    "22": """^?San Martin; Tarapoto; Moyobamba; Juanjui; Tocache; ^?Rioja; Saposoa; Uchiza;
        Nueva Cajamarca; Picota; Mariscal Caceres""",
    "23": """Tacna; tacnen*; Tarata; Candarave; Jorge Basadre""",
    "24": """Tumbes; tumbesin*; Zarumilla; Aguas Verdes; Zorritos; Contralmirante Villar; Puerto Pizarro""",
    "25": """Ucayali; Pucallpa; ^?Atalaya; Aguaytia; Padre Abad; Coronel Portillo; Yarinacocha;
        Manantay; Calleria""",
}

# Areas that span several departments: a mention implies each of them.
REGIONS: dict[str, tuple[str, ...]] = {
    # Valle de los ríos Apurímac, Ene y Mantaro: the coca valley, spread over five departments.
    "VRAEM; VRAE; valle de los rios Apurimac Ene y Mantaro; Apurimac Ene and Mantaro": (
        "03",
        "05",
        "08",
        "09",
        "12",
    ),
    "Alto Huallaga; Upper Huallaga": ("10", "22"),
}


def place_entries() -> list[Entry]:
    """Lexicon entries of the ``geo`` family, group ``place``, payload = ubigeo codes."""
    entries: list[Entry] = []
    for code, aliases in ALIASES.items():
        entries.extend(entries_from("geo", "place", aliases, 1.0, (code,)))
    for aliases, codes in REGIONS.items():
        entries.extend(entries_from("geo", "place", aliases, 1.0, codes))
    return entries
