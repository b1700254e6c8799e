"""The words generated contacts are made of (see :mod:`bench.contacts_data`): names per
country, companies, positions, tags, statuses, sources. Lists are in decreasing
frequency; the generator draws from them with Zipf-like weights over the rank."""

from __future__ import annotations

import unicodedata

import numpy as np

# Lists are in decreasing frequency; weights are Zipf-like over the rank.


def _words(text: str) -> list[str]:
    return text.split()


EN_FIRST = _words(
    """James Mary Michael John Robert Jennifer David Patricia William Linda Richard
Elizabeth Joseph Barbara Thomas Susan Christopher Jessica Charles Sarah Daniel Karen
Matthew Lisa Anthony Nancy Mark Betty Donald Sandra Steven Margaret Andrew Ashley Paul
Kimberly Joshua Emily Kenneth Donna Kevin Michelle Brian Carol George Amanda Timothy
Melissa Ronald Deborah Jason Stephanie Edward Rebecca Jeffrey Sharon Ryan Laura Jacob
Cynthia Gary Dorothy Nicholas Amy Eric Kathleen Jonathan Angela Stephen Shirley Larry
Emma Justin Brenda Scott Pamela Brandon Nicole Benjamin Anna Samuel Samantha Gregory
Katherine Alexander Christine Patrick Debra Frank Rachel Raymond Carolyn Jack Janet
Dennis Maria Jerry Olivia Tyler Heather Aaron Helen Jose Catherine Adam Diane Nathan
Julie Henry Victoria Zachary Joyce Douglas Lauren Peter Kelly Kyle Christina Noah Ruth
Ethan Joan Jeremy Virginia Walter Judith Christian Evelyn Keith Hannah Roger Andrea
Terry Megan Austin Cheryl Sean Jacqueline Gerald Madison Carl Teresa Harold Abigail
Dylan Sophia Arthur Martha Lawrence Sara Jordan Gloria Jesse Janice Bryan Kathryn Billy
Ann Bruce Isabella Gabriel Judy Joe Charlotte Logan Julia Alan Grace Juan Amber Albert
Alice Willie Denise Elijah Danielle Wayne Marilyn Randy Beverly Vincent Natalie Mason
Theresa Roy Diana Ralph Brittany Bobby Doris Russell Kayla Bradley Alexis Philip Lori
Eugene Marie Oliver Amelia Harry Isla George Poppy Freddie Ava Arlo Ivy Theo Florence
Archie Freya Leo Willow Alfie Rosie Hugo Evie Finley Phoebe Reggie Imogen Rory Matilda
Ezra Esme Kai Nadia Ravi Priya Wei Mei Hiroshi Yuki Omar Layla Mateo Lucia Santiago
Camila Diego Valentina Tariq Aisha Dmitri Katya Niamh Siobhan Eoin Aoife Zoë René Chloé"""
)
EN_LAST = _words(
    """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson
White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott
Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter
Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris
Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly
Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza
Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell
Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher
Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin
Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens
Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy
Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter
Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Muñoz Hunt Hicks Holmes Palmer Wagner
Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza
Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley
Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott
Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry
Perkins Hoffman Johnston Matthews Peña Richards Willis Carpenter Lawrence Sandoval
O'Brien O'Connor McCarthy Fitzgerald Doyle Byrne Walsh Brennan Gallagher Kavanagh
Okafor Adeyemi Mensah Nakamura Tanaka Suzuki Watanabe Yamamoto Kowalski Nowak Novak
Horvat Popescu Ivanov Petrov Kuznetsov Johansson Lindqvist Virtanen Korhonen Rossi Russo
Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Haddad Khoury Nasser"""
)
DE_FIRST = _words(
    """Thomas Michael Andreas Stefan Christian Peter Markus Frank Klaus Jürgen Wolfgang
Sabine Andrea Ursula Petra Monika Claudia Susanne Birgit Karin Gabriele Maria Anna Lukas
Leon Finn Jonas Paul Felix Elias Noah Luis Ben Emilia Hannah Mia Sophia Lina Lea Emma
Marie Johanna Lena Katharina Julia Laura Sarah Sebastian Tobias Daniel Florian Matthias
Alexander Tim Jan Niklas Philipp Maximilian Moritz Jörg Björn Uwe Dieter Horst Günter
Helga Ingrid Renate Brigitte Erika Gisela Heike Anja Silke Kerstin Jutta Dörte Götz"""
)
DE_LAST = _words(
    """Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer
Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann
Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler
Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn
Schubert Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann
Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt
Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich
Ziegler Kuhn Kühn Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer"""
)
FR_FIRST = _words(
    """Jean Marie Pierre Michel Philippe Nathalie Isabelle Sylvie Catherine Françoise
Alain Nicolas Christophe Patrick Laurent Stéphane Sébastien Frédéric Julien David Céline
Sandrine Valérie Christine Véronique Sophie Camille Léa Manon Chloé Emma Inès Jade Louise
Léo Gabriel Raphaël Arthur Louis Lucas Hugo Jules Adam Maël Théo Noé Sacha Élodie Aurélie
Amélie Émilie Hélène Mathilde Clémence Anaïs Margaux Gaëlle Benoît Jérôme Thibault
Rémi Grégoire Étienne Hervé Yannick Loïc Gaël Cédric Mathieu Baptiste Quentin Antoine"""
)
FR_LAST = _words(
    """Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent
Lefèbvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefèvre
Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc
Guérin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Lopez
Fontaine Chevalier Robin Masson Sanchez Gérard Nguyen Boyer Denis Lemaire Duval Joly
Gautier Roger Roche Roy Noël Meyer Lucas Meunier Jean Perez Marchand Dufour Blanchard
Marie Barbier Brun Dumas Brunet Schmitt Leroux Colin Fernandez Pierre Renard Arnaud
Rolland Caron Aubert Giraud Leclerc Vidal Bourgeois Renaud Lemoine Picard Gaillard"""
)
SYLLABLES = _words(
    """ka lo mi ra ten vor bel dri zu fen gar hol is jun kev lam nor pel quin sar tov ul
var wen xo yas zim bra cle dru fro gli hre ola pri stu tha vle mor dak"""
)

COUNTRIES = ("US", "GB", "DE", "FR")
COUNTRY_WEIGHTS = (0.55, 0.15, 0.15, 0.15)
CALLING_CODES = {"US": "1", "GB": "44", "DE": "49", "FR": "33"}
NAMES = {
    "US": (EN_FIRST, EN_LAST),
    "GB": (EN_FIRST, EN_LAST),
    "DE": (DE_FIRST, DE_LAST),
    "FR": (FR_FIRST, FR_LAST),
}
FREE_MAIL = {
    "US": ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com"),
    "GB": ("gmail.com", "hotmail.co.uk", "outlook.com", "btinternet.com", "yahoo.co.uk"),
    "DE": ("gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.de"),
    "FR": ("gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr"),
}
COMPANY_WORDS = _words(
    """Acme Blue River North Star Global Prime Apex Summit Vertex Nova Bright Stone Oak
Pine Cedar Maple Harbor Bay Metro Urban Coastal Alpine Silver Golden Iron Swift Clear
True First United Pacific Atlantic Eastern Western Red Green Falcon Eagle Lion Tiger
Orbit Quantum Fusion Nimbus Zenith Polar Sierra Delta Echo Cobalt Crimson Amber Willow
Birch Granite Lumen Helix Vector Pixel Signal Beacon Anchor Compass Keystone Pioneer"""
)
COMPANY_KINDS = _words(
    """Logistics Systems Labs Partners Analytics Dynamics Solutions Foods Capital Energy
Health Media Robotics Software Consulting Networks Materials Pharma Studios Ventures
Retail Security Freight Insurance Bank Textiles Motors Interactive Biotech Foundry"""
)
COMPANY_SUFFIX = {"US": ("Inc", "LLC", "Corp", ""), "GB": ("Ltd", "plc", ""),
                  "DE": ("GmbH", "AG", ""), "FR": ("SA", "SAS", "")}  # fmt: skip
INDUSTRIES = _words(
    """Software Logistics Manufacturing Healthcare Finance Retail Energy Media Education
Consulting Telecommunications Pharmaceuticals Insurance Hospitality Construction"""
)
COMPANY_SIZES = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+")
POSITIONS = [
    "CEO", "CTO", "CFO", "COO", "Founder", "Co-Founder", "Software Engineer",
    "Engineering Manager", "Director of Sales", "Sales Manager", "Account Executive",
    "Account Manager", "Marketing Manager", "Head of Marketing", "Product Manager",
    "Head of Product", "Designer", "Data Analyst", "Data Scientist", "Consultant",
    "Operations Manager", "Office Manager", "HR Manager", "Recruiter", "Accountant",
    "Controller", "Procurement Manager", "Buyer", "Customer Success Manager",
    "Solutions Architect", "IT Manager", "General Counsel", "Business Analyst",
    "Project Manager", "Partner", "VP Sales", "VP Engineering", "Managing Director",
    "Research Scientist", "Supply Chain Manager",
]  # fmt: skip
SENIORITY = ("", "", "", "", "Senior ", "Lead ", "Junior ")
TAGS = [
    "newsletter", "webinar", "customer", "trade-show", "prospect-2025", "decision-maker",
    "vip", "partner", "champion", "enterprise", "smb", "referral", "follow-up", "event-2024",
    "event-2025", "investor", "press", "churn-risk", "beta-tester", "reseller", "agency",
    "startup", "do-not-call", "q3-target", "conference-speaker",
]  # fmt: skip
STATUSES = ("LEAD", "PROSPECT", "CUSTOMER", "INACTIVE")
STATUS_WEIGHTS = (0.50, 0.25, 0.18, 0.07)
# Lead score ~ Beta(a, b) * 100 per status: customers and prospects score higher.
SCORE_SHAPE = {"LEAD": (2.0, 5.0), "PROSPECT": (4.0, 3.0), "CUSTOMER": (6.0, 2.0),
               "INACTIVE": (1.5, 6.0)}  # fmt: skip
SOURCES = ["website", "referral", "import", "event", "linkedin", "cold-outreach",
           "partner", "webinar", "api"]  # fmt: skip
CAMPAIGNS = ["spring-launch", "black-friday", "webinar-series", "q4-push", "partner-week"]


def zipf_weights(size: int, exponent: float, offset: float = 1.0) -> np.ndarray:
    weights = 1.0 / (np.arange(size) + offset) ** exponent
    return weights / weights.sum()  # type: ignore[no-any-return]


def ascii_fold(text: str) -> str:
    """``Müller`` → ``muller``, ``O'Brien`` → ``obrien`` (email local parts)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())
