"""Where a text is about: words that anchor it to Peru, and words that anchor it to another country.

The hard cases of relevance are about *where*: a cartel war in Sinaloa is crime, not Peruvian crime,
even when it says Peru once; a Peruvian bus strike against extortion is relevant without saying
"Peru" at all when it names San Juan de Lurigancho, the PNP or the serenazgo. Peru anchors are the
country and its demonyms, its security institutions and officials (places come from the gazetteer);
foreign anchors are other countries, their cities, institutions, leaders and gangs.

A few anchors are *neutral*: names that contain a place but are not one ("Alianza Lima", a football
club) or a foreign name inside a Peruvian one. Matching them hides the place inside.
"""

from __future__ import annotations

from pipeline.classify.matcher import Entry, entries_from

PERU_ANCHORS: dict[float, str] = {
    # Demonyms say who, not where ("un ciudadano peruano detenido en Chile"): they weigh half.
    1.0: """Peru; Republica del Peru; Policia Nacional del Peru; PNP; Dirincri;
        Dircote; Dirandro; Divincri; Depincri; Diviac; INPE; Mininter; Sucamec; Devida; Conasec;
        Codisec; Coresec; serenazgo; serenos; Sinadef; Reniec; Sunat; Indeci; Senamhi; Minem;
        Boluarte; ^Jeri; Jose Jeri; Vizcarra; Humala; Fujimori; Lopez Aliaga; Otarola; Adrianzen;
        Santivanez; Sendero Luminoso; Shining Path; fiscal de la nacion; Fiscalia de la Nacion;
        Defensoria del Pueblo; ^Andina; ^Yape; nuevos soles; Barrio Seguro; Dina Boluarte;
        Pedro Castillo; Ollanta Humala; Keiko; Alianza para el Progreso; Fuerza Popular;
        Renovacion Popular; Peru Libre; Somos Peru; bicolor; blanquirroja; Indecopi; BCRP;
        Petroperu; Sedapal; Titicaca""",
    0.5: """peruan*; peruvian*; soles; ^Castillo; ^Toledo; ^Arriola; Palacio de Gobierno; Government Palace;
        mototaxi*; Congreso de la Republica; ^Poder Judicial; Jurado Nacional de Elecciones; JNE; ONPE""",
}

# Foreign anchors by country (ISO 3166 alpha-2, "XX" for the world at large), with a weight each.
FOREIGN_ANCHORS: dict[str, dict[float, str]] = {
    "MX": {
        1.0: """mexic*; Sinaloa; Culiacan; Jalisco; CJNG; Guadalajara; Tijuana; Ciudad Juarez; Michoacan;
            Tamaulipas; Chihuahua; Sonora; Zacatecas; Iguala; Ayotzinapa; Los Pinos; Estados Unidos Mexicanos;
            Pena Nieto; Lopez Obrador; AMLO; Sheinbaum; Sedena; Harfuch; Chapitos; El Chapo; Zambada;
            entidades federativas; Monterrey; Acapulco; Cancun; Veracruz; Oaxaca; Morelos; Puebla;
            Zetas; cartel de Sinaloa; Sinaloa cartel; Jalisco New Generation""",
        0.5: """^Guerrero; Guardia Nacional; National Guard; ^Calderon; gobernadores; fentanyl; fentanilo""",
    },
    "EC": {
        1.0: """Ecuador; Guayaquil; Quito; Noboa; Los Choneros; ^Los Lobos; Esmeraldas;
            Manabi; Machala; ^El Oro; Penitenciaria del Litoral; Litoral penitentiary; Guayas; Tiguerones;
            Lasso""",
        0.5: """ecuator*; ecuadorian*; ^Manta; ^Duran; ^Correa; conflicto armado interno;
            internal armed conflict""",
    },
    "CO": {
        1.0: """Colombia; Bogota; Medellin; Barranquilla; Cauca; Catatumbo; Clan del Golfo;
            ELN; FARC; disidencias; ^Petro; Antioquia; Narino; Cucuta""",
        0.5: """colombian*; ^Cali; ^Cartagena; ^Uribe""",
    },
    "CL": {
        1.0: """^Chile; chilen*; Valparaiso; Antofagasta; Iquique; Carabineros; Boric; ^Kast; Temuco;
            Araucania; Santiago de Chile""",
        0.5: """^Santiago; ^Arica""",
    },
    "SV": {
        1.0: """^El Salvador; salvadoren*; salvadoran*; Bukele; Cecot; MS-13; MS 13; Barrio 18;
            Mara Salvatrucha; San Salvador""",
        0.5: """maras""",
    },
    "CA": {
        1.0: """Honduras; hondure*; Guatemala; guatemal*; Costa Rica; costarric*; Nicaragua; nicaragu*;
            Tegucigalpa; Panama; panamen*; panamanian*; Haiti; haitian*; Cuba; cuban*;
            Republica Dominicana; Dominican Republic; Puerto Rico""",
    },
    "VE": {
        # Venezuelans are part of Peruvian crime news (migration, Tren de Aragua), so only the state
        # and its capital count as foreign.
        1.0: """Maduro; Caracas; chavis*; Machado""",
        0.5: """Venezuela""",
    },
    "BR": {
        1.0: """Brasil; Brazil; brasilen*; brazilian*; Rio de Janeiro; Sao Paulo; Comando Vermelho; ^PCC;
            Lula; Bolsonaro; favela*; Manaos; Manaus""",
    },
    "AR": {
        1.0: """argentin*; Buenos Aires; Milei; Bullrich; Cordoba; Mendoza""",
        0.5: """^Rosario""",
    },
    "BO": {
        1.0: """Bolivia; bolivian*; Cochabamba; Evo Morales; Santa Cruz de la Sierra; El Alto""",
        0.5: """^La Paz; ^Arce""",
    },
    "US": {
        1.0: """Trump; Biden; White House; Casa Blanca; New York; Nueva York; Florida; Texas; California;
            Chicago; Los Angeles; Washington; Americans; estadounidense*; Pentagon*; Pentagono""",
        0.5: """Estados Unidos; EEUU; EE UU; United States; ^US; ^U S; ^USA; FBI; ^ICE""",
    },
    "EU": {
        1.0: """Espana; Madrid; Barcelona; europ*; Italia; Italy; Francia;
            France; Alemania; Germany; Reino Unido; United Kingdom; Britain; British; London; Londres;
            Belgica; Belgium; Amberes; Antwerp; Rotterdam; Paises Bajos; Netherlands; Portugal""",
    },
    "XX": {
        1.0: """Ucrania; Ukraine; Rusia; Russia; Putin; Zelensky; Israel; Gaza; Hamas; Iran; Siria; Syria;
            Japon; Japan; India; Africa; Australia; Canada; Filipinas; Philippines; Vaticano; Vatican;
            Uruguay; Paraguay; Nigeria; Pakistan; Afganistan; Afghanistan; Corea; Korea""",
        0.5: """China; chino; Chinese; Asia""",
    },
}

# Names containing a place that are not that place: matched (geo family) so the place inside is not.
NEUTRAL = """Alianza Lima; Grupo de Lima; Lima Group; Sporting Cristal; Jose de San Martin;
    General San Martin; avenida San Martin; San Martin avenue; jiron Ica; avenida Tacna; avenida Arequipa;
    Arequipa avenue; jiron Puno; Universidad San Martin de Porres; Copa America"""


def anchor_entries() -> list[Entry]:
    """Entries of the ``geo`` family: groups ``peru``, ``foreign`` (payload: country) and ``neutral``."""
    entries: list[Entry] = []
    for weight, block in PERU_ANCHORS.items():
        entries.extend(entries_from("geo", "peru", block, weight))
    for country, blocks in FOREIGN_ANCHORS.items():
        for weight, block in blocks.items():
            entries.extend(entries_from("geo", "foreign", block, weight, (country,)))
    entries.extend(entries_from("geo", "neutral", NEUTRAL, 0.0))
    return entries
