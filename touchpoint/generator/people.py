"""The population: who exists, what they are called, and every identifier they own.

Identifiers are fragmented on purpose (see docs/generator.md): several cookies and app
installs per person, emails typed with different case/whitespace per source, phones in
three KR formats, loyalty cards only at the till, social handles linked in the CRM
for some people only.  The canonical forms used in truth/identifiers.csv are produced
by the ``canonical_*`` helpers here.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from touchpoint.generator import rates as R
from touchpoint.generator import vocab as V

# Person kinds.
CRM_EXISTING, CRM_NEW, PROSPECT_CONTACT, PROSPECT_PLAIN, NEVER_ID = range(5)
KIND_NAMES = ("crm_existing", "crm_new", "prospect_contact", "prospect_plain", "never_identifiable")

SIGNUP_CHANNELS = (("web", 0.35), ("app", 0.40), ("store", 0.15), ("social", 0.05), ("call_center", 0.05))


def canonical_email(value: str) -> str:
    return value.strip().lower()


def canonical_phone(value: str) -> str:
    """Any KR mobile format -> E.164 (+821012345678)."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if digits.startswith("82"):
        digits = digits[2:]
    if digits.startswith("0"):
        digits = digits[1:]
    return "+82" + digits


def canonical_handle(platform: str, handle: str) -> str:
    handle = handle.strip()
    if ":" in handle:
        return handle.lower()
    if not handle.startswith("@"):
        handle = "@" + handle
    return f"{platform}:{handle}".lower()


def email_variant(email: str, rng: random.Random) -> str:
    """How a source holds an address: mostly as canonical, sometimes re-cased or padded."""
    r = rng.random()
    if r < 0.70:
        return email
    if r < 0.82:
        local, _, domain = email.partition("@")
        return ".".join(p[:1].upper() + p[1:] for p in local.split(".")) + "@" + domain[:1].upper() + domain[1:]
    if r < 0.92:
        return (" " + email) if rng.random() < 0.5 else (email + " ")
    return email.upper()


def phone_variant(num8: int, rng: random.Random) -> str:
    d = f"{num8:08d}"
    r = rng.random()
    if r < 0.50:
        return f"010-{d[:4]}-{d[4:]}"
    if r < 0.70:
        return f"+82 10-{d[:4]}-{d[4:]}"
    if r < 0.95:
        return f"010{d}"
    return f"+8210{d}"


def _weighted(rng: random.Random, pairs):
    values = [p[0] for p in pairs]
    weights = [p[-1] for p in pairs]
    return rng.choices(values, weights)[0]


@dataclass
class Population:
    n: int
    pid: list[str] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    roman: list[str] = field(default_factory=list)        # romanised name for handles/emails
    english: list[bool] = field(default_factory=list)
    gender: list[str] = field(default_factory=list)
    birth_year: list[int] = field(default_factory=list)
    city: list[int] = field(default_factory=list)         # index into V.CITIES
    email: list[str | None] = field(default_factory=list)  # canonical primary
    email2: list[str | None] = field(default_factory=list)
    crm_email: list[str | None] = field(default_factory=list)  # as typed in the CRM
    phone: list[int | None] = field(default_factory=list)  # the 8 digits after 010
    account: list[str | None] = field(default_factory=list)
    signup_channel: list[str | None] = field(default_factory=list)
    signup_epoch: list[int | None] = field(default_factory=list)  # for existing accounts
    signup_day: list[int] = field(default_factory=list)   # -1 existing, day index for new, 10**9 never
    cookies: list[list[str]] = field(default_factory=list)
    cookie_source: list[list[tuple]] = field(default_factory=list)  # GA4 first-touch per cookie
    apps: list[list[tuple[str, str]]] = field(default_factory=list)  # (app_instance_id, platform)
    member: list[str | None] = field(default_factory=list)  # loyalty member id (if enrolled)
    card: list[str | None] = field(default_factory=list)
    social: list[tuple[str, str] | None] = field(default_factory=list)  # (platform, @handle)
    social_linked: list[bool] = field(default_factory=list)
    consent: list[list[bool]] = field(default_factory=list)  # [email, sms, push]
    member_no: list[int] = field(default_factory=list)
    used_cards: set[str] = field(default_factory=set)


def build_population(n: int, seed: int, start_epoch: int, days: int) -> Population:
    rng = random.Random(f"{seed}/people")
    pop = Population(n=n)
    used_emails: set[str] = set()
    used_phones: set[int] = set()
    used_cards = pop.used_cards
    used_cookies: set[str] = set()
    used_handles: set[str] = set()
    account_numbers = rng.sample(range(1, 10 ** 8), n)
    member_numbers = rng.sample(range(1, 10 ** 8), n)
    pop.member_no = member_numbers
    ko_weights = [s[2] for s in V.KO_SURNAMES]
    city_weights = [c[2] for c in V.CITIES]
    platforms = list(R.SOCIAL_PLATFORM_WEIGHTS)
    platform_w = list(R.SOCIAL_PLATFORM_WEIGHTS.values())
    organic_w = [s[3] for s in V.ORGANIC_SOURCES]
    prospect_share = 1.0 - R.CRM_EXISTING_SHARE - R.CRM_NEW_SHARE
    for i in range(n):
        pop.pid.append(f"P{i + 1:07d}")
        r = rng.random()
        if r < R.CRM_EXISTING_SHARE:
            kind = CRM_EXISTING
        elif r < R.CRM_EXISTING_SHARE + R.CRM_NEW_SHARE:
            kind = CRM_NEW
        else:
            q = (r - R.CRM_EXISTING_SHARE - R.CRM_NEW_SHARE) / prospect_share
            kind = PROSPECT_CONTACT if q < R.PROSPECT_CONTACT_SHARE else (
                NEVER_ID if q < R.PROSPECT_CONTACT_SHARE + R.PROSPECT_NEVER_ID_SHARE else PROSPECT_PLAIN)
        pop.kind.append(kind)
        english = rng.random() < R.ENGLISH_NAME_SHARE
        if english:
            first, gender = rng.choice(V.EN_FIRST)
            last = rng.choice(V.EN_LAST)
            name, roman = f"{first} {last}", f"{first.lower()}.{last.lower()}"
        else:
            sur, sur_r, _ = rng.choices(V.KO_SURNAMES, ko_weights)[0]
            given, given_r, gender = rng.choice(V.KO_GIVEN)
            name, roman = sur + given, f"{given_r}.{sur_r}"
        if rng.random() < 0.03:
            gender = "U"
        pop.name.append(name)
        pop.roman.append(roman)
        pop.english.append(english)
        pop.gender.append(gender)
        pop.birth_year.append(int(min(2008, max(1950, rng.gauss(1990, 10)))))
        pop.city.append(rng.choices(range(len(V.CITIES)), city_weights)[0])

        has_contact = kind in (CRM_EXISTING, CRM_NEW, PROSPECT_CONTACT)
        email = email2 = None
        phone = None
        if has_contact:
            email = _unique_email(rng, roman, pop.birth_year[-1], used_emails)
            if rng.random() < R.SECOND_EMAIL_SHARE:
                email2 = _unique_email(rng, roman.split(".")[0], None, used_emails)
            while True:
                phone = rng.randrange(10 ** 7, 10 ** 8)
                if phone not in used_phones:
                    used_phones.add(phone)
                    break
        pop.email.append(email)
        pop.email2.append(email2)
        pop.crm_email.append(email_variant(email, rng) if email else None)
        pop.phone.append(phone)

        if kind in (CRM_EXISTING, CRM_NEW):
            pop.account.append(f"A{account_numbers[i]:08d}")
            pop.signup_channel.append(_weighted(rng, SIGNUP_CHANNELS))
        else:
            pop.account.append(None)
            pop.signup_channel.append(None)
        if kind == CRM_EXISTING:
            pop.signup_day.append(-1)
            pop.signup_epoch.append(start_epoch - rng.randrange(86400, 3 * 365 * 86400))
        elif kind == CRM_NEW:
            pop.signup_day.append(rng.randrange(days))
            pop.signup_epoch.append(None)
        else:
            pop.signup_day.append(10 ** 9)
            pop.signup_epoch.append(None)

        # Cookies: GA4 user_pseudo_id = random int . first-visit epoch seconds.
        n_cookies = rng.choices((1, 2, 3, 4), R.COOKIES_PER_PERSON_WEIGHTS)[0]
        cookies, sources = [], []
        for _ in range(n_cookies):
            while True:
                first_seen = start_epoch - rng.randrange(0, 400 * 86400)
                cookie = f"{rng.randrange(10 ** 8, 2 * 10 ** 9)}.{first_seen}"
                if cookie not in used_cookies:
                    used_cookies.add(cookie)
                    break
            cookies.append(cookie)
            src = rng.choices(V.ORGANIC_SOURCES, organic_w)[0]
            name = src[2] or ("(organic)" if src[1] == "organic" else "(direct)" if src[0] == "(direct)" else "(referral)")
            sources.append((src[0], src[1], name))
        pop.cookies.append(cookies)
        pop.cookie_source.append(sources)
        apps = []
        if rng.random() < R.APP_USER_SHARE:
            n_apps = rng.choices((1, 2), R.APP_INSTANCES_PER_USER_WEIGHTS)[0]
            platform = "IOS" if rng.random() < 0.35 else "ANDROID"
            for _ in range(n_apps):
                apps.append((f"{rng.getrandbits(128):032x}", platform))
        pop.apps.append(apps)

        member = card = None
        if kind == CRM_EXISTING and rng.random() < R.LOYALTY_MEMBER_SHARE:
            member, card = f"M{member_numbers[i]:08d}", _unique_card(rng, used_cards)
        pop.member.append(member)
        pop.card.append(card)

        social = None
        linked = False
        if kind != NEVER_ID and rng.random() < R.SOCIAL_HANDLE_SHARE:
            platform = rng.choices(platforms, platform_w)[0]
            while True:
                base = roman.replace(".", rng.choice(("_", ".", "")))
                handle = "@" + base + (str(rng.randrange(10, 9999)) if rng.random() < 0.7 else "")
                key = f"{platform}:{handle}".lower()
                if key not in used_handles:
                    used_handles.add(key)
                    break
            social = (platform, handle)
            linked = kind in (CRM_EXISTING, CRM_NEW) and rng.random() < R.SOCIAL_LINKED_IN_CRM_SHARE
        pop.social.append(social)
        pop.social_linked.append(linked)
        pop.consent.append([rng.random() < R.CONSENT_EMAIL, rng.random() < R.CONSENT_SMS,
                            rng.random() < R.CONSENT_PUSH])
    return pop


def _unique_email(rng: random.Random, roman: str, birth_year: int | None, used: set[str]) -> str:
    domains = [d[0] for d in V.EMAIL_DOMAINS]
    weights = [d[1] for d in V.EMAIL_DOMAINS]
    while True:
        style = rng.random()
        if style < 0.4 and birth_year:
            local = f"{roman}{birth_year % 100:02d}"
        elif style < 0.7:
            local = f"{roman.replace('.', '')}{rng.randrange(1, 999)}"
        else:
            local = f"{roman}{rng.randrange(1, 9999)}"
        email = f"{local}@{rng.choices(domains, weights)[0]}"
        if email not in used:
            used.add(email)
            return email


def _unique_card(rng: random.Random, used: set[str]) -> str:
    while True:
        card = f"9410{rng.randrange(10 ** 11, 10 ** 12)}"
        if card not in used:
            used.add(card)
            return card


def new_member(pop: Population, i: int, rng: random.Random) -> None:
    """Enrol person i in the loyalty program during the window."""
    pop.member[i] = f"M{pop.member_no[i]:08d}"
    pop.card[i] = _unique_card(rng, pop.used_cards)
