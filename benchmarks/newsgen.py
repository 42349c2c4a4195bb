"""Security news of Peru made up on demand: one distinct story per (feed, number), deterministic.

The freshness benchmark's web publishes these on a clock. Each item must be an article the
classifier keeps (so its digest email can be timed) and a story of its own (so the digest lists
it: an article that joins an earlier story is never mailed again), so every item draws its own
place, people, numbers and a few of many sentence templates: two items share few 5-word shingles
(``pipeline.stories`` joins texts at a Jaccard similarity of 0.5) and never a title.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass

PLACES = [  # (district or town, province or city, department)
    ("San Juan de Lurigancho", "Lima", "Lima"),
    ("Comas", "Lima", "Lima"),
    ("Villa El Salvador", "Lima", "Lima"),
    ("Ate", "Lima", "Lima"),
    ("Ventanilla", "Callao", "Callao"),
    ("El Porvenir", "Trujillo", "La Libertad"),
    ("La Esperanza", "Trujillo", "La Libertad"),
    ("Pataz", "Pataz", "La Libertad"),
    ("Veintiséis de Octubre", "Piura", "Piura"),
    ("Sullana", "Sullana", "Piura"),
    ("José Leonardo Ortiz", "Chiclayo", "Lambayeque"),
    ("Cerro Colorado", "Arequipa", "Arequipa"),
    ("Juliaca", "San Román", "Puno"),
    ("El Tambo", "Huancayo", "Junín"),
    ("Nuevo Chimbote", "Santa", "Áncash"),
    ("Zarumilla", "Zarumilla", "Tumbes"),
    ("Belén", "Maynas", "Loreto"),
    ("Callería", "Coronel Portillo", "Ucayali"),
    ("Parcona", "Ica", "Ica"),
    ("Wanchaq", "Cusco", "Cusco"),
]
NAMES = [
    "Carlos",
    "Rosa",
    "Jorge",
    "Milagros",
    "Luis",
    "Elena",
    "Pedro",
    "Karina",
    "Julio",
    "Sonia",
    "Raúl",
    "Gladys",
    "Víctor",
    "Norma",
]
SURNAMES = [
    "Quispe",
    "Mamani",
    "Huamán",
    "Flores",
    "Rojas",
    "Chávez",
    "Torres",
    "Vásquez",
    "Ramos",
    "Castillo",
    "Mendoza",
    "Salazar",
]
GANGS = [
    "Los Pulpos",
    "Los Injertos del Cono Norte",
    "Los Malditos de Bayóvar",
    "La Jauría",
    "Los Topos del Sur",
]
VICTIMS = [
    "un mototaxista",
    "un chofer de combi",
    "una comerciante",
    "un cambista",
    "un dirigente de transportistas",
]

TITLES = [
    "Asesinan a {victim} en {district}: policía investiga a banda de extorsionadores ({n} casos este año)",
    "Capturan a {k} presuntos integrantes de {gang} en {district}, {city}",
    "Extorsionadores atacan a balazos una empresa de transporte en {district}; {k} heridos",
    "Fiscalía abre investigación por sicariato en {city} tras el crimen de {name} {surname}",
    "Policía desarticula red de extorsión que cobraba cupos a {k} negocios de {district}",
    "Balacera en {district} deja {k} heridos y el gremio de {city} anuncia paro",
    "Detienen a cabecilla de {gang} con {k} armas en una vivienda de {district}",
    "Vecinos de {district} denuncian {n} robos en una semana y piden estado de emergencia en {city}",
]
SENTENCES = [
    "Según la Policía Nacional, {k} sujetos a bordo de una motocicleta dispararon contra {victim} en "
    "{district} la noche del {day}.",
    "La víctima, identificada como {name} {surname}, de {age} años, había denunciado amenazas de "
    "extorsión en la comisaría del sector.",
    "Los extorsionadores exigían un cupo semanal de {money} soles y enviaban mensajes con fotografías "
    "de la familia.",
    "La Dirección contra la Extorsión identificó a {k} presuntos integrantes de {gang}, que operaría "
    "desde un penal de {city}.",
    "El fiscal provincial de {city} dispuso la detención preliminar de {k} investigados por el delito "
    "de extorsión agravada.",
    "En lo que va del año se registraron {n} denuncias por extorsión en {department}, según cifras "
    "del Ministerio del Interior.",
    "Los transportistas de {city} anunciaron un paro de {k} días si el gobierno no declara el estado "
    "de emergencia.",
    "Durante el operativo en {district} se incautaron {k} pistolas, {n} municiones y {k2} teléfonos "
    "celulares.",
    "Testigos contaron que los sicarios huyeron en un auto que los esperaba a {k} cuadras del lugar.",
    "El jefe policial de {department} informó que se reforzarán los patrullajes en {district} con "
    "{n} agentes.",
    "La banda criminal {gang} también es investigada por {k} homicidios y el cobro de cupos a "
    "colegios de {city}.",
    "El alcalde de {district} pidió al Ministerio del Interior más efectivos y cámaras de "
    "videovigilancia para {n} paraderos.",
    "La familia de {name} {surname} exigió justicia frente a la morgue de {city} este {day}.",
    "Los detenidos, de entre {age} y {age2} años, fueron trasladados a la División de Investigación "
    "Criminal de {city}.",
    "La Defensoría del Pueblo advirtió que la extorsión y el sicariato afectan a {n} familias de "
    "{department}.",
    "Un juez dictó {k2} meses de prisión preventiva contra el presunto cabecilla, alias «{alias}».",
]
DAYS = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]
ALIASES = ["Chino", "Loco Tito", "Gringo", "Cholo Bryan", "Viejo", "Flaco"]


@dataclass(frozen=True)
class Story:
    title: str
    summary: str
    paragraphs: list[str]


def story(feed: int, number: int, seed: int = 20) -> Story:
    """The made-up article ``number`` of feed ``feed`` (the same arguments, the same article)."""
    rng = random.Random(f"{seed}:{feed}:{number}")
    district, city, department = rng.choice(PLACES)
    slots = {
        "district": district,
        "city": city,
        "department": department,
        "victim": rng.choice(VICTIMS),
        "gang": rng.choice(GANGS),
        "name": rng.choice(NAMES),
        "surname": rng.choice(SURNAMES),
        "alias": rng.choice(ALIASES),
        "day": rng.choice(DAYS),
        "k": rng.randint(2, 9),
        "k2": rng.randint(10, 40),
        "n": rng.randint(41, 990),
        "age": rng.randint(19, 35),
        "age2": rng.randint(36, 58),
        "money": rng.randint(2, 90) * 50,
    }
    # The item's own number in the title: no two items share a title, whatever the draw.
    title = rng.choice(TITLES).format(**slots) + f" [{feed}-{number}]"
    sentences = [s.format(**slots) for s in rng.sample(SENTENCES, 7)]
    paragraphs = [" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2)]
    return Story(title, sentences[0], paragraphs)


def page(item: Story, outlet: str) -> bytes:
    """A news page around the article: navigation, a most-read box, a footer, as real sites have."""
    e = html.escape
    body = "\n".join(f"<p>{e(p)}</p>" for p in item.paragraphs)
    nav = " ".join(f'<a href="/seccion/{s}">{s.title()}</a>' for s in ("politica", "policiales", "deportes"))
    return f"""<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8"><title>{e(item.title)} | {e(outlet)}</title>
<meta property="og:title" content="{e(item.title)}"></head>
<body><header><a href="/">{e(outlet)}</a><nav class="menu">{nav}</nav></header>
<main><article><h1>{e(item.title)}</h1>
{body}
</article><aside class="most-read"><h2>Lo más leído</h2><ol><li>Tipo de cambio hoy</li></ol></aside></main>
<footer><p>{e(outlet)} · Todos los derechos reservados</p></footer></body></html>""".encode()
