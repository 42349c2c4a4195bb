"""What a text is about when it is not about security: the contexts behind the hard negatives.

A Peruvian article about floods says "estado de emergencia"; one about copper output says "mina" and
"oro"; one about football says "ataque" and "penal". Each context below is a lexicon whose weight the
model sets against the crime terms, so "state of emergency" plus huaicos and El Niño reads as a
disaster, not as a crackdown.
"""

from __future__ import annotations

from pipeline.classify.matcher import Entry, entries_from

CONTEXTS: dict[str, dict[float, str]] = {
    "disaster": {
        1.0: """lluvia*; precipitaciones; huaico*; huayco*; inundac*; desborde*; desbordo; ^El Nino;
            ^El Nino Costero; fenomeno de El Nino; fenomeno El Nino; ^La Nina; ENFEN; Senamhi; Indeci;
            Cenepred; damnificad*; deslizamiento*; friaje*; sismo*; terremoto*; tsunami*; oleaje anomalo;
            sequia*; deficit hidrico; incendio* forestal*; emergencia sanitaria; derrame de petroleo;
            dengue; flood*; flash flood*; landslide*; mudslide*; heavy rain*; rainfall; rains; torrential;
            earthquake*; quake*; drought*; wildfire*; forest fire*; oil spill*; disaster*; desastre*;
            humanitarian; ayuda humanitaria; evacuad*; evacuat*; afectados por; friaje; heladas;
            cold wave; bajas temperaturas; ola de calor; heat wave; avalanch*; aluvion*; water shortage*;
            escasez de agua; desabastecimiento de agua; emergencia hidrica; water emergency; cisternas""",
        0.5: """derrumbe*; alud*; volcan*; erupcion*; epidemi*; outbreak*; brote*; rain; clima*; climate;
            weather; temperatur*; frost*; helada; meteorolog*; emergencia climatica; rios; river*;
            damage*; danos; viviendas; homes destroyed; refugios; shelters""",
    },
    "sports": {
        1.0: """futbol*; football*; soccer; seleccion peruana; la bicolor; blanquirroja; eliminatori*;
            qualifier*; world cup; copa del mundo; copa america; copa libertadores; copa sudamericana;
            Conmebol; FIFA; liga 1; Alianza Lima; Universitario de Deportes; Sporting Cristal; gol; goles;
            delantero*; mediocampista*; striker*; midfielder*; goalkeeper*; futbolista*; voley; volleyball;
            olimpic*; olympic*; tenis; tennis; surf*; deportista*; campeonato*; championship*; amistoso*;
            goleador*; arquero*; hincha*; plantel; convocatoria; convocados; seleccionado*; marcador;
            ^Mundial""",
        0.5: """estadio*; stadium*; entrenador*; coach*; torneo*; tournament*; jugador*; player*; partido*;
            match; matches; medalla*; medal*; deporte*; deportiv*; sport*; club; clubes; goal; goals;
            clausura; tecnico; ^DT; rival*; victoria; derrota; empate; fans""",
    },
    "economy": {
        1.0: """PBI; PIB; GDP; inflacion; inflation; BCRP; Banco Central de Reserva; central bank;
            tasa de interes; tasa de referencia; interest rate*; bolsa de valores; stock exchange;
            output; tonelada*; tonnes; toneladas metricas; zinc; molibdeno; molybdenum; Antamina;
            Las Bambas; Cerro Verde; Southern Copper; Glencore; Minsur; Hochschild; Quellaveco;
            Ministerio de Economia; MEF; deficit fiscal; fiscal deficit; FMI; IMF; Banco Mundial;
            World Bank; agroexport*; arandano*; blueberr*; anchoveta; harina de pescado; fishmeal;
            temporada de pesca; fishing season; tipo de cambio; exchange rate; calificacion crediticia;
            credit rating; Moody; Fitch; cartera de proyectos; proyecto* minero*; mining project*;
            exportaciones; exports; importaciones; imports; inversion* minera*; mining investment;
            crecimiento economico; economic growth; recesion; recession; PMI; bonos soberanos;
            libre comercio; free trade; comercio exterior; foreign trade; superavit; surplus""",
        0.5: """economia; economy; economic*; inversion*; investment*; investor*; mercado*; market*;
            precio*; price*; produccion; production; cobre; copper; silver; gold output; oro; gold; tons;
            crecimiento; growth; empleo; employment; jobs; dolar*; dollar*; acciones; shares; stocks;
            ventas; sales; trade; comercio; presupuesto; budget; puerto;
            port; APEC; mineria; mining; minera*; minero*; mine; mines; yacimiento*; deposit*""",
    },
    "tourism_culture": {
        1.0: """turis*; touris*; Machu Picchu; viajer*; travel*; hotel*; restaurant*; restaurante*;
            gastronom*; chef*; cuisine; ceviche; receta*; recipe*; museo*; museum*; Inti Raymi;
            arqueolog*; archaeolog*; lineas de Nasca; Nazca lines; Camino Inca; Inca Trail; trekking;
            pelicula*; movie*; album*; cocina peruana; Peruvian food; dining; menu; pisco sour; Netflix;
            streaming; estreno*; premiere*; actor; actores; actriz; actress*; box office; taquilla;
            videoclip*; concierto*; concert*; novel; novels; novelist*; documental*; documentar*""",
        0.5: """visitantes; visitors; cocina; plato*; dish*; festival*; patrimonio; heritage; UNESCO;
            ruinas; ruins; destino*; destination*; vuelo*; flight*; aerolinea*; airline*; film*;
            cultura*; cultur*; novela*; libro*; book*; arte; art; musica; music; artista*; artist*;
            exposicion; exhibition; paisaje*; landscape*; playa*; beach*""",
    },
    "elections": {
        1.0: """elecciones; election*; electoral*; intencion de voto; segunda vuelta; runoff;
            campana electoral; encuesta*; poll; polls; polling; sondeo*; Ipsos; Datum; JNE; ONPE;
            voter*; votantes; electores;
            approval rating*; aprobacion presidencial; candidatura*; plancha presidencial""",
        0.5: """candidat*; votos; voto; votar; vote; votes; partido* politico*; political part*; bicameral*;
            senado*; senate; congresista*; lawmaker*; Congreso; Congress; bancada*; parlament*;
            vacancia; impeachment; premier; gabinete; cabinet""",
    },
    "other_security": {
        1.0: """inseguridad alimentaria; seguridad alimentaria; food security; food insecurity; food safety;
            seguridad vial; road safety; traffic safety; seguridad social; social security;
            seguridad informatica;
            seguridad digital; ciberseguridad; cybersecurity; cyber security; seguridad energetica;
            energy security;
            seguridad juridica; seguridad hidrica; water security; seguridad y salud en el trabajo;
            seguridad laboral;
            occupational safety; workplace safety; seguridad sanitaria; bioseguridad; biosecurity;
            seguridad nuclear;
            nuclear safety; seguridad aerea; aviation safety; flight safety; seguridad del paciente;
            patient safety;
            seguridad de la informacion; information security; data security; network security;
            seguridad de datos;
            job security; securities; seguridad en el empleo; seguridad de los alimentos;
            inocuidad alimentaria;
            seguridad nacional de Estados Unidos; national security adviser;
    Department of Homeland Security""",
    },
    "tech": {
        1.0: """software; hardware; smartphone*; programming; programador*; programmer*; developer*;
            source code; codigo fuente; compiler*; GitHub; Linux; JavaScript; TypeScript; Python; open source;
            codigo abierto; CSRF; TLS; SSL; vulnerabilit*; exploit; exploits; malware; ransomware; phishing;
            hacker*; ciberataque*; cyberattack*; cyber attack*; data breach*; filtracion de datos;
            videojuego*; video game*; videogame*; gaming; PlayStation; Xbox; Nintendo; Steam; blockchain;
            bitcoin; criptomoneda*; cryptocurrenc*; semiconductor*; startup*; app store; inteligencia
            artificial; artificial intelligence; machine learning; LLM; LLMs; chatbot*; algoritmo*;
            algorithm*; database*; servidor*; server*; browser*; navegador*; plugin*; API; APIs; robot*""",
        0.5: """app; apps; aplicacion*; internet; online; web; digital; datos; data; code; codigo; game;
            games;
            juego*; consola*; console*; chip; chips; cloud; nube; tecnolog*; technolog*; computer*;
            computadora*; usuario*; user*; password*; contrasena*""",
    },
    "other_news": {
        1.0: """accidente de transito; accidentes de transito; accidente vehicular; despiste; volcadura;
            cayo a un abismo; traffic accident*; road accident*; bus crash; ravine; plunged; plunges;
            fell into a; siniestro* vial*; choque frontal; head on collision; vacun*; vaccin*;
            ciencia; science; scientist*; cientifico*; especie*; species; Minsa; Minedu; tecnologia;
            technology; inteligencia artificial; artificial intelligence; ministerio de salud""",
        0.5: """abismo; choque; crash*; incendio*; blaze; pacientes; patients; universidad*; university;
            universities; estudiantes; students; salud; health; educacion; education; obra*;
            construction; agua potable; drinking water""",
    },
}

CONTEXT_IDS: tuple[str, ...] = tuple(CONTEXTS)


def context_entries() -> list[Entry]:
    entries: list[Entry] = []
    for context, blocks in CONTEXTS.items():
        for weight, block in blocks.items():
            entries.extend(entries_from("context", context, block, weight))
    return entries
