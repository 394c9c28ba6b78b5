"""The incident-type catalogue every deployment starts with.

Installed by a data migration (calls/migrations/0002_catalogue.py); afterwards it is
data, edited in the admin. Each entry: code, priority, (ru, kk, en) names, response plan
as (service, capability, count) lines. Priorities follow the usual 112 triage: 1 threat
to life, 2 urgent, 3 non-urgent, 4 low.
"""

CATALOGUE = [
    ("traffic_accident_injury", 1, ("ДТП с пострадавшими", "Зардап шеккендері бар ЖКО", "Traffic accident with injuries"),
     [("police", "", 1), ("medical", "", 1)]),
    ("traffic_accident", 3, ("ДТП без пострадавших", "Зардап шеккендерсіз ЖКО", "Traffic accident, no injuries"),
     [("police", "", 1)]),
    ("cardiac_arrest", 1, ("Остановка сердца", "Жүрек тоқтауы", "Cardiac arrest"),
     [("medical", "als", 1)]),
    ("unconscious_person", 1, ("Человек без сознания", "Есінен танған адам", "Unconscious person"),
     [("medical", "als", 1)]),
    ("breathing_problem", 1, ("Затруднённое дыхание", "Тыныс алудың қиындауы", "Breathing problem"),
     [("medical", "als", 1)]),
    ("medical_emergency", 2, ("Неотложная медицинская помощь", "Шұғыл медициналық көмек", "Medical emergency"),
     [("medical", "", 1)]),
    ("childbirth", 2, ("Роды", "Босану", "Childbirth"), [("medical", "", 1)]),
    ("injury_fall", 2, ("Травма, падение", "Жарақат, құлау", "Injury or fall"), [("medical", "bls", 1)]),
    ("overdose_poisoning", 1, ("Отравление, передозировка", "Улану, дозаның асып кетуі", "Poisoning or overdose"),
     [("medical", "als", 1)]),
    ("building_fire", 1, ("Пожар в здании", "Ғимараттағы өрт", "Building fire"),
     [("fire", "", 2), ("medical", "", 1), ("police", "", 1)]),
    ("vehicle_fire", 2, ("Возгорание автомобиля", "Көліктің жануы", "Vehicle fire"), [("fire", "", 1)]),
    ("outdoor_fire", 3, ("Пожар на открытой местности", "Ашық жердегі өрт", "Outdoor or grass fire"), [("fire", "", 1)]),
    ("smoke_alarm", 3, ("Срабатывание пожарной сигнализации", "Өрт дабылының іске қосылуы", "Fire alarm activation"),
     [("fire", "", 1)]),
    ("hazmat", 1, ("Утечка опасных веществ", "Қауіпті заттардың ағуы", "Hazardous materials"),
     [("fire", "hazmat", 1), ("police", "", 1), ("medical", "", 1)]),
    ("gas_leak", 1, ("Утечка газа", "Газдың ағуы", "Gas leak"), [("utility", "gas", 1), ("fire", "", 1)]),
    ("rescue", 1, ("Спасательные работы", "Құтқару жұмыстары", "Technical rescue"),
     [("fire", "", 1), ("medical", "", 1)]),
    ("water_rescue", 1, ("Спасение на воде", "Судағы құтқару", "Water or ice rescue"),
     [("fire", "", 1), ("medical", "", 1)]),
    ("assault", 1, ("Нападение, драка", "Шабуыл, төбелес", "Assault"), [("police", "", 1), ("medical", "", 1)]),
    ("domestic_violence", 1, ("Семейное насилие", "Тұрмыстық зорлық-зомбылық", "Domestic violence"),
     [("police", "", 2)]),
    ("robbery", 1, ("Грабёж, разбой", "Тонау, қарақшылық", "Robbery"), [("police", "", 2)]),
    ("burglary", 2, ("Кража со взломом", "Бұзып ұрлау", "Burglary"), [("police", "", 1)]),
    ("missing_person", 2, ("Пропал человек", "Адам жоғалды", "Missing person"), [("police", "", 1)]),
    ("public_disorder", 2, ("Нарушение общественного порядка", "Қоғамдық тәртіпті бұзу", "Public disorder"),
     [("police", "", 1)]),
    ("suspicious_object", 1, ("Подозрительный предмет", "Күдікті зат", "Suspicious object"),
     [("police", "", 1), ("fire", "", 1)]),
    ("noise_complaint", 4, ("Жалоба на шум", "Шуға шағым", "Noise complaint"), [("police", "", 1)]),
    ("power_outage", 3, ("Отключение электроэнергии", "Электр қуатының өшуі", "Power outage"),
     [("utility", "electric", 1)]),
    ("downed_power_line", 1, ("Обрыв линии электропередачи", "Электр желісінің үзілуі", "Downed power line"),
     [("utility", "electric", 1), ("police", "", 1)]),
    ("water_main_break", 2, ("Прорыв водопровода", "Су құбырының жарылуы", "Water main break"),
     [("utility", "water", 1)]),
    ("heating_failure", 2, ("Авария отопления", "Жылу жүйесінің апаты", "Heating failure"),
     [("utility", "heating", 1)]),
    ("elevator_entrapment", 2, ("Застревание в лифте", "Лифтте қамалып қалу", "Person trapped in elevator"),
     [("fire", "", 1)]),
    ("other", 3, ("Прочее", "Басқа", "Other"), []),
]


ROLES = ("operator", "supervisor", "gateway")


def install(apps, schema_editor=None):
    """Create the role groups and any catalogue entry that is missing (never overwrites edits)."""
    IncidentType = apps.get_model("calls", "IncidentType")
    ResponsePlanLine = apps.get_model("calls", "ResponsePlanLine")
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    for code, priority, (ru, kk, en), plan in CATALOGUE:
        itype, created = IncidentType.objects.get_or_create(
            code=code, defaults={"priority": priority, "name_ru": ru, "name_kk": kk, "name_en": en}
        )
        if created:
            for service, capability, count in plan:
                ResponsePlanLine.objects.create(incident_type=itype, service=service, capability=capability, count=count)
