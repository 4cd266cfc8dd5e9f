"""The directions of educational-methodical work (p.7, p.8, p.9, p.13, p.33): a catalogue as data.

Order No. 583 lists what methodical work includes, level by level: 8 directions for schools
(p.7), 9 for TVET and post-secondary colleges (p.8), 26 for universities (p.9), 4 for
methodical structural units (p.13) and 11 for educational-methodical unions, УМО (p.33).
A work-plan item, a meeting agenda item or a union decision names the direction it serves by
its code "p.N.k" (sub-item k of clause N), and reports group by direction.

The Russian text of each sub-item is the Order's, verbatim (as amended by Orders No. 488 of
27.07.2015 and No. 40 of 18.01.2016), without its leading "k) " and trailing ";" or ".", and
with whitespace normalised. The source's own slips are kept as they are: p.9.5 reads
"научно-методическими методическими разработками", p.9.7 "по кредитной и дистанционным".

p.9 repeats itself: 8=24, 11=26 and 21=23 word for word; 12 is 5 without 5's doubled word;
19 is 7 without its "в том числе по кредитной и дистанционным образовательным технологиям"
(an inclusion, so the same scope). The later item of each pair is kept (codes are the
Order's) and marked `duplicate_of` the earlier one; `canonical` gives the code to group by.

The Kazakh text (`text_kk`) renders each sub-item in the terms of the Order's Kazakh version
(оқу-әдістемелік бірлестік, жұмыс оқу бағдарламасы, білім берудің мемлекеттік жалпыға міндетті
стандарттары ...); it is a faithful rendering, not a copy of the official Kazakh text, so a
document that quotes the Order verbatim quotes the Russian. Items that repeat each other read the
same in Kazakh, and p.9.5's doubled word, a slip of the Russian text, is not carried over.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain import rules
from domain.base import InvalidValue

SCHOOL = "school"
COLLEGE = "college"
UNIVERSITY = "university"
UNIT = "unit"
UNION = "union"

LEVELS = (SCHOOL, COLLEGE, UNIVERSITY, UNIT, UNION)

# The clause that lists each level's directions.
CLAUSE_OF_LEVEL = {SCHOOL: "p.7", COLLEGE: "p.8", UNIVERSITY: "p.9", UNIT: "p.13", UNION: "p.33"}

# Which level's directions a tenant plans by. Authorities plan by the level they lead (p.5, p.22):
# a district department leads schools, a regional department colleges.
LEVEL_OF_TENANT_KIND = {
    rules.SCHOOL: SCHOOL,
    rules.TVET_COLLEGE: COLLEGE,
    rules.POSTSECONDARY_COLLEGE: COLLEGE,
    rules.UNIVERSITY: UNIVERSITY,
    rules.DISTRICT_DEPARTMENT: SCHOOL,
    rules.REGIONAL_DEPARTMENT: COLLEGE,
}


@dataclass(frozen=True)
class Direction:
    """One direction of methodical work: a numbered sub-item of p.7, p.8, p.9, p.13 or p.33."""

    code: str
    clause: str
    number: int
    level: str
    text_ru: str
    text_kk: str
    label_en: str
    duplicate_of: str | None = None

    def text(self, language: str) -> str:
        """Return the text in this language: Russian (ru), Kazakh (kk), the English label (en); Russian otherwise."""
        if language == "kk":
            return self.text_kk
        if language == "en":
            return self.label_en
        return self.text_ru

    @property
    def canonical(self) -> str:
        """Return the code to group by: the earlier item this one repeats, or its own code."""
        return self.duplicate_of or self.code


class UnknownDirection(InvalidValue, KeyError):
    """Raised when a code names no direction of the catalogue (a KeyError too, as a failed lookup)."""

    def __init__(self, code: str) -> None:
        super().__init__(
            "No direction %(code)r: a direction is named \"p.N.k\", sub-item k of clause "
            "p.7, p.8, p.9, p.13 or p.33 of the Order (e.g. \"p.33.4\").",
            field="direction", code=code,
        )
        self.code = code

    def __str__(self) -> str:
        return self.detail


def _d(clause: str, number: int, level: str, text_ru: str, text_kk: str, label_en: str,
       duplicate_of: str | None = None) -> Direction:
    return Direction(f"{clause}.{number}", clause, number, level, text_ru, text_kk, label_en, duplicate_of)


DIRECTIONS: tuple[Direction, ...] = (
    # p.7: schools (general education programmes of primary, basic and general secondary level)
    _d("p.7", 1, SCHOOL,
       "овладение теоретическими, методологическими основами наук, достижениями педагогики и психологии, "
       "эффективными методиками, формирующими мировоззрение, умение и навыки самостоятельной работы, "
       "самообразования, развивающими умственную, познавательную активность",
       "ғылымдардың теориялық, әдіснамалық негіздерін, педагогика мен психологияның жетістіктерін, "
       "дүниетанымды, өзіндік жұмыс, өздігінен білім алу іскерлігі мен дағдыларын қалыптастыратын, ақыл-ой, "
       "танымдық белсенділікті дамытатын тиімді әдістемелерді меңгеру",
       "Mastering theory and methodology of sciences, pedagogy, psychology and effective methods"),
    _d("p.7", 2, SCHOOL,
       "ознакомление с нормативными документами в области образования",
       "білім беру саласындағы нормативтік құжаттармен танысу",
       "Familiarisation with normative documents in education"),
    _d("p.7", 3, SCHOOL,
       "изучение и творческое освоение разнообразных форм и методов преподавания, внеклассной, внешкольной "
       "предметной и воспитательной работы",
       "оқытудың, сыныптан тыс, мектептен тыс пәндік және тәрбие жұмысының алуан түрлі нысандары мен "
       "әдістерін зерделеу және шығармашылықпен меңгеру",
       "Studying forms and methods of teaching, extracurricular and educational work"),
    _d("p.7", 4, SCHOOL,
       "ознакомление с лучшим, новаторским опытом и творческим использованием его идей, функциями и "
       "прогрессивными идеями менеджмента, инновациями",
       "үздік, жаңашыл тәжірибемен және оның идеяларын шығармашылықпен пайдаланумен, менеджменттің "
       "функцияларымен және прогрессивті идеяларымен, инновациялармен танысу",
       "Familiarisation with best and innovative practice, management ideas and innovations"),
    _d("p.7", 5, SCHOOL,
       "подготовка и проведение разнообразных форм методической и научно-методической работы, направленных "
       "на совершенствование учебно-воспитательного процесса и оказание практической помощи педагогу на "
       "выявление научного потенциала учащихся (участие в Республиканских, международных олимпиадах и "
       "конкурсах)",
       "оқу-тәрбие процесін жетілдіруге және педагогке оқушылардың ғылыми әлеуетін анықтауда (республикалық,"
       " халықаралық олимпиадалар мен конкурстарға қатысу) практикалық көмек көрсетуге бағытталған "
       "әдістемелік және ғылыми-әдістемелік жұмыстың алуан түрлі нысандарын дайындау және өткізу",
       "Preparing methodical work to improve teaching, help teachers, develop pupils' potential"),
    _d("p.7", 6, SCHOOL,
       "анализ качества преподавания, уровня достижений обучения, воспитания учащихся",
       "оқыту сапасын, оқушылардың оқу жетістіктерінің, тәрбиелілігінің деңгейін талдау",
       "Analysing teaching quality and pupils' learning and upbringing outcomes"),
    _d("p.7", 7, SCHOOL,
       "участие в процедуре аттестации педагогических работников и приравненных к ним лиц",
       "педагог қызметкерлер мен оларға теңестірілген тұлғаларды аттестаттау рәсіміне қатысу",
       "Taking part in the attestation of teaching staff"),
    _d("p.7", 8, SCHOOL,
       "разработка методической и научно-методической продукции",
       "әдістемелік және ғылыми-әдістемелік өнімді әзірлеу",
       "Developing methodical and scientific-methodical products"),
    # p.8: TVET and post-secondary colleges
    _d("p.8", 1, COLLEGE,
       "организация изучения, анализ и реализация нормативных правовых документов, рекомендаций органов "
       "управления образованием; учебно-программной документации, внесение предложений по их "
       "совершенствованию",
       "нормативтік құқықтық құжаттарды, білім беруді басқару органдарының ұсынымдарын; оқу-бағдарламалық "
       "құжаттаманы зерделеуді ұйымдастыру, оларды талдау және іске асыру, оларды жетілдіру жөнінде "
       "ұсыныстар енгізу",
       "Studying and implementing regulations, recommendations and curriculum documents; proposing improvements"),
    _d("p.8", 2, COLLEGE,
       "организация изучения новых учебных программ и предложений по их внедрению в учебный процесс",
       "жаңа оқу бағдарламаларын және оларды оқу процесіне енгізу жөніндегі ұсыныстарды зерделеуді "
       "ұйымдастыру",
       "Studying new syllabi and proposing how to introduce them"),
    _d("p.8", 3, COLLEGE,
       "внесение предложений по внесению изменений в стандарты и учебные программы с учетом требований рынка "
       "труда",
       "еңбек нарығының талаптарын ескере отырып, стандарттар мен оқу бағдарламаларына өзгерістер енгізу "
       "жөнінде ұсыныстар енгізу",
       "Proposing changes to standards and syllabi for labour-market needs"),
    _d("p.8", 4, COLLEGE,
       "обсуждение итогов текущего, промежуточного контроля, анализ качества знаний, навыков и умений "
       "учащихся и разработка предложений по улучшению результатов",
       "ағымдағы, аралық бақылаудың қорытындыларын талқылау, оқушылардың білім, дағды және іскерлік сапасын "
       "талдау және нәтижелерді жақсарту жөнінде ұсыныстар әзірлеу",
       "Discussing assessment results, analysing students' knowledge and skills, proposing improvements"),
    _d("p.8", 5, COLLEGE,
       "организация педагогического наставничества, оказание помощи начинающим педагогическим работникам и "
       "мастерам производственного обучения в подготовке и проведении учебных занятий, разработке "
       "учебно-методических, научно-методических материалов и внеурочных мероприятий",
       "педагогикалық тәлімгерлікті ұйымдастыру, жұмысты жаңа бастаған педагог қызметкерлер мен өндірістік "
       "оқыту шеберлеріне оқу сабақтарын дайындауда және өткізуде, оқу-әдістемелік, ғылыми-әдістемелік "
       "материалдар мен сабақтан тыс іс-шараларды әзірлеуде көмек көрсету",
       "Pedagogical mentoring and support for beginning teachers and industrial training masters"),
    _d("p.8", 6, COLLEGE,
       "организация взаимопосещения занятий, проведение открытых уроков и их обсуждение; изучение, отбор и "
       "внедрение в практику работы достижений науки и техники, передового опыта в учебно-воспитательной "
       "работе и новых технологий обучения",
       "сабақтарға өзара қатысуды ұйымдастыру, ашық сабақтар өткізу және оларды талқылау; ғылым мен "
       "техниканың жетістіктерін, оқу-тәрбие жұмысындағы озық тәжірибені және оқытудың жаңа технологияларын "
       "зерделеу, іріктеу және жұмыс практикасына енгізу",
       "Peer observation, open lessons, and adopting advanced practice and new technologies"),
    _d("p.8", 7, COLLEGE,
       "организация и проведение конкурсов профессионального мастерства по специальностям и профессиям, "
       "тематических, научных, научно-методических семинаров, конференций и научно-методических совещаний",
       "мамандықтар мен кәсіптер бойынша кәсіби шеберлік конкурстарын, тақырыптық, ғылыми, "
       "ғылыми-әдістемелік семинарларды, конференцияларды және ғылыми-әдістемелік кеңестерді ұйымдастыру "
       "және өткізу",
       "Professional skills competitions, seminars, conferences and methodical meetings"),
    _d("p.8", 8, COLLEGE,
       "организация обзоров педагогической, научной, методической литературы, рефератов, докладов, "
       "методических разработок и пособий, технических средств обучения и электронно-вычислительной техники",
       "педагогикалық, ғылыми, әдістемелік әдебиетке, рефераттарға, баяндамаларға, әдістемелік әзірлемелер "
       "мен құралдарға, оқытудың техникалық құралдары мен электрондық есептеуіш техникаға шолулар "
       "ұйымдастыру",
       "Reviews of pedagogical literature, methodical developments and teaching aids"),
    _d("p.8", 9, COLLEGE,
       "совершенствование работы по педагогике сотрудничества, самоуправлению, привлечению обучающихся к "
       "улучшению учебно-воспитательного процесса и к более широкому использованию эффективных форм "
       "организации труда, взаимопроверки и взаимопомощи",
       "ынтымақтастық педагогикасы, өзін-өзі басқару, білім алушыларды оқу-тәрбие процесін жақсартуға және "
       "еңбекті ұйымдастырудың, өзара тексерудің және өзара көмектің тиімді нысандарын кеңінен пайдалануға "
       "тарту жөніндегі жұмысты жетілдіру",
       "Improving cooperative pedagogy, student self-government and mutual assistance"),
    # p.9: universities (higher and postgraduate); the source repeats 5=12, 7=19, 8=24, 11=26, 21=23
    _d("p.9", 1, UNIVERSITY,
       "проведение мероприятий по обобщению и распространению передового педагогического опыта и "
       "информатизации образования",
       "озық педагогикалық тәжірибені жинақтау мен тарату және білім беруді ақпараттандыру жөнінде "
       "іс-шаралар өткізу",
       "Generalising and spreading advanced teaching practice; informatisation of education"),
    _d("p.9", 2, UNIVERSITY,
       "анализ влияния организации учебно-методической и научно-методической работы на текущую успеваемость "
       "обучающихся",
       "оқу-әдістемелік және ғылыми-әдістемелік жұмысты ұйымдастырудың білім алушылардың ағымдағы үлгеріміне"
       " әсерін талдау",
       "Analysing how methodical work affects students' current performance"),
    _d("p.9", 3, UNIVERSITY,
       "разработка методического обеспечения самостоятельной работы обучающихся",
       "білім алушылардың өзіндік жұмысын әдістемелік қамтамасыз етуді әзірлеу",
       "Methodical support for students' independent work"),
    _d("p.9", 4, UNIVERSITY,
       "разработка методического обеспечения работы по ежегодному формированию контингента обучающихся с "
       "учетом профиля, уровня подготовки и возможностей",
       "бейінін, даярлық деңгейін және мүмкіндіктерін ескере отырып, білім алушылар контингентін жыл сайын "
       "қалыптастыру жөніндегі жұмысты әдістемелік қамтамасыз етуді әзірлеу",
       "Methodical support for the annual formation of the student body"),
    _d("p.9", 5, UNIVERSITY,
       "осуществление мониторинга обеспеченности образовательного процесса учебной литературой и "
       "научно-методическими методическими разработками",
       "білім беру процесінің оқу әдебиетімен және ғылыми-әдістемелік әзірлемелермен қамтамасыз етілуіне "
       "мониторинг жүргізу",
       "Monitoring provision of learning literature and methodical developments"),
    _d("p.9", 6, UNIVERSITY,
       "организация перспективного планирования образовательного процесса с учетом демографической, "
       "экономической и отраслевой ситуации по регионам и в целом по стране",
       "өңірлер бойынша және жалпы ел бойынша демографиялық, экономикалық және салалық жағдайды ескере "
       "отырып, білім беру процесін перспективалық жоспарлауды ұйымдастыру",
       "Long-term planning of education given demographic, economic and sectoral conditions"),
    _d("p.9", 7, UNIVERSITY,
       "разработка и внедрение учебно-методической и научно-методической документации по новым технологиям "
       "обучения, в том числе по кредитной и дистанционным образовательным технологиям",
       "оқытудың жаңа технологиялары, оның ішінде кредиттік және қашықтықтан білім беру технологиялары "
       "бойынша оқу-әдістемелік және ғылыми-әдістемелік құжаттаманы әзірлеу және енгізу",
       "Methodical documentation on new teaching technologies, including credit and distance"),
    _d("p.9", 8, UNIVERSITY,
       "разработка и участие в конкурсах научных проектов, научно-методических разработок и внедрение их "
       "результатов в производство, в учебный процесс",
       "ғылыми жобалар, ғылыми-әдістемелік әзірлемелер конкурстарын әзірлеу және оларға қатысу, олардың "
       "нәтижелерін өндіріске, оқу процесіне енгізу",
       "Competitions of research projects and methodical developments; applying their results"),
    _d("p.9", 9, UNIVERSITY,
       "организация маркетинговых исследований с целью создания базы данных для прогноза потребности в "
       "специалистах по существующим и перспективным направлениям подготовки",
       "қолданыстағы және перспективалы даярлау бағыттары бойынша мамандарға қажеттілікті болжау үшін "
       "деректер базасын құру мақсатында маркетингтік зерттеулер ұйымдастыру",
       "Marketing research to forecast demand for specialists"),
    _d("p.9", 10, UNIVERSITY,
       "разработка и внедрение дидактико-методических, учебно-материальных средств обучения",
       "оқытудың дидактикалық-әдістемелік, оқу-материалдық құралдарын әзірлеу және енгізу",
       "Developing didactic-methodical and material teaching aids"),
    _d("p.9", 11, UNIVERSITY,
       "экспертиза учебников, учебных, учебно-методических пособий, диссертаций, монографий, научных статей, "
       "научно-методических разработок, проектов",
       "оқулықтарды, оқу, оқу-әдістемелік құралдарды, диссертацияларды, монографияларды, ғылыми мақалаларды,"
       " ғылыми-әдістемелік әзірлемелерді, жобаларды сараптау",
       "Expert review of textbooks, manuals, dissertations, monographs, articles and projects"),
    _d("p.9", 12, UNIVERSITY,
       "осуществление мониторинга обеспеченности образовательного процесса учебной литературой и "
       "научно-методическими разработками",
       "білім беру процесінің оқу әдебиетімен және ғылыми-әдістемелік әзірлемелермен қамтамасыз етілуіне "
       "мониторинг жүргізу",
       "Monitoring provision of learning literature and methodical developments",
       duplicate_of="p.9.5"),
    _d("p.9", 13, UNIVERSITY,
       "внесение предложений по унификации учебных программ по родственным специальностям",
       "сабақтас мамандықтар бойынша оқу бағдарламаларын біріздендіру жөнінде ұсыныстар енгізу",
       "Proposals to unify syllabi of related specialties"),
    _d("p.9", 14, UNIVERSITY,
       "внесение предложений по совершенствованию нормативных правовых документов, классификатора "
       "специальностей высшего и послевузовского образования, государственных общеобязательных стандартов "
       "образования",
       "нормативтік құқықтық құжаттарды, жоғары және жоғары оқу орнынан кейінгі білім беру мамандықтарының "
       "сыныптауышын, білім берудің мемлекеттік жалпыға міндетті стандарттарын жетілдіру жөнінде ұсыныстар "
       "енгізу",
       "Proposals to improve regulations, the specialty classifier and education standards"),
    _d("p.9", 15, UNIVERSITY,
       "внедрение в учебный процесс современных учебно-методических и научно-методических, дидактических "
       "материалов и программного обеспечения автоматизированных систем обучения, систем информационного "
       "обеспечения, информационно-библиотечных систем",
       "оқу процесіне заманауи оқу-әдістемелік және ғылыми-әдістемелік, дидактикалық материалдарды және "
       "оқытудың автоматтандырылған жүйелерінің, ақпараттық қамтамасыз ету жүйелерінің, "
       "ақпараттық-кітапханалық жүйелердің бағдарламалық қамтамасыз етілуін енгізу",
       "Introducing modern teaching materials, learning software and information-library systems"),
    _d("p.9", 16, UNIVERSITY,
       "разработка рабочих учебных программ, участие в подготовке проектов типовых учебных программ",
       "жұмыс оқу бағдарламаларын әзірлеу, үлгілік оқу бағдарламаларының жобаларын дайындауға қатысу",
       "Developing working syllabi; helping draft model syllabi"),
    _d("p.9", 17, UNIVERSITY,
       "экспертиза рабочих учебных планов и рабочих учебных программ с учетом требований государственных "
       "общеобязательных стандартов образования",
       "білім берудің мемлекеттік жалпыға міндетті стандарттарының талаптарын ескере отырып, жұмыс оқу "
       "жоспарлары мен жұмыс оқу бағдарламаларын сараптау",
       "Expert review of working curricula and syllabi against state standards"),
    _d("p.9", 18, UNIVERSITY,
       "разработка учебников, учебно-методических и научно-методических комплексов, учебно-методических "
       "пособий, в том числе на электронных носителях и дидактических материалов",
       "оқулықтарды, оқу-әдістемелік және ғылыми-әдістемелік кешендерді, оқу-әдістемелік құралдарды, оның "
       "ішінде электрондық жеткізгіштердегі құралдарды және дидактикалық материалдарды әзірлеу",
       "Developing textbooks, methodical complexes, manuals and didactic materials, including electronic"),
    _d("p.9", 19, UNIVERSITY,
       "разработка и внедрение учебно-методической и научно-методической документации по новым технологиям "
       "обучения",
       "оқытудың жаңа технологиялары бойынша оқу-әдістемелік және ғылыми-әдістемелік құжаттаманы әзірлеу "
       "және енгізу",
       "Methodical documentation on new teaching technologies",
       duplicate_of="p.9.7"),
    _d("p.9", 20, UNIVERSITY,
       "анализ качества преподавания, уровня учебных достижений обучающихся",
       "оқыту сапасын, білім алушылардың оқу жетістіктерінің деңгейін талдау",
       "Analysing teaching quality and students' learning achievements"),
    _d("p.9", 21, UNIVERSITY,
       "организация и проведение тематических научных, научно-методических семинаров, конференций, "
       "вебинаров, совещаний по совершенствованию учебно-методической и научно-методической работы",
       "оқу-әдістемелік және ғылыми-әдістемелік жұмысты жетілдіру жөнінде тақырыптық ғылыми, "
       "ғылыми-әдістемелік семинарларды, конференцияларды, вебинарларды, кеңестерді ұйымдастыру және өткізу",
       "Thematic scientific and methodical seminars, conferences, webinars and meetings"),
    _d("p.9", 22, UNIVERSITY,
       "организация, координация, анализ содержания и формы научно-исследовательской, научно-методической "
       "работы студентов, магистрантов, докторантов",
       "студенттердің, магистранттардың, докторанттардың ғылыми-зерттеу, ғылыми-әдістемелік жұмысын "
       "ұйымдастыру, үйлестіру, оның мазмұны мен нысанын талдау",
       "Organising and analysing research work of students, master's and doctoral students"),
    _d("p.9", 23, UNIVERSITY,
       "организация и проведение тематических научных, научно-методических семинаров, конференций, "
       "вебинаров, совещаний по совершенствованию учебно-методической и научно-методической работы",
       "оқу-әдістемелік және ғылыми-әдістемелік жұмысты жетілдіру жөнінде тақырыптық ғылыми, "
       "ғылыми-әдістемелік семинарларды, конференцияларды, вебинарларды, кеңестерді ұйымдастыру және өткізу",
       "Thematic scientific and methodical seminars, conferences, webinars and meetings",
       duplicate_of="p.9.21"),
    _d("p.9", 24, UNIVERSITY,
       "разработка и участие в конкурсах научных проектов, научно-методических разработок и внедрение их "
       "результатов в производство, в учебный процесс",
       "ғылыми жобалар, ғылыми-әдістемелік әзірлемелер конкурстарын әзірлеу және оларға қатысу, олардың "
       "нәтижелерін өндіріске, оқу процесіне енгізу",
       "Competitions of research projects and methodical developments; applying their results",
       duplicate_of="p.9.8"),
    _d("p.9", 25, UNIVERSITY,
       "организация и осуществление подготовки магистрантов, докторов философии по специальностям",
       "мамандықтар бойынша магистранттарды, философия докторларын даярлауды ұйымдастыру және жүзеге асыру",
       "Training master's students and PhD candidates by specialty"),
    _d("p.9", 26, UNIVERSITY,
       "экспертиза учебников, учебных, учебно-методических пособий, диссертаций, монографий, научных статей, "
       "научно-методических разработок, проектов",
       "оқулықтарды, оқу, оқу-әдістемелік құралдарды, диссертацияларды, монографияларды, ғылыми мақалаларды,"
       " ғылыми-әдістемелік әзірлемелерді, жобаларды сараптау",
       "Expert review of textbooks, manuals, dissertations, monographs, articles and projects",
       duplicate_of="p.9.11"),
    # p.13: methodical structural units
    _d("p.13", 1, UNIT,
       "руководство учебно-методической и научно-методической работой кафедр, отделений, факультетов, "
       "институтов",
       "кафедралардың, бөлімшелердің, факультеттердің, институттардың оқу-әдістемелік және "
       "ғылыми-әдістемелік жұмысына басшылық ету",
       "Leading methodical work of chairs, divisions, faculties and institutes"),
    _d("p.13", 2, UNIT,
       "экспертиза нормативных правовых документов по учебно-методической и научно-методической работе и "
       "рекомендация их для рассмотрения методическими (научно-методическими, научно-техническими) советами",
       "оқу-әдістемелік және ғылыми-әдістемелік жұмыс жөніндегі нормативтік құқықтық құжаттарды сараптау "
       "және оларды әдістемелік (ғылыми-әдістемелік, ғылыми-техникалық) кеңестердің қарауына ұсыну",
       "Expert review of methodical regulations and referral to methodical councils"),
    _d("p.13", 3, UNIT,
       "анализ состояния учебно-воспитательного процесса, методической работы и выработка рекомендаций по их "
       "совершенствованию",
       "оқу-тәрбие процесінің, әдістемелік жұмыстың жай-күйін талдау және оларды жетілдіру жөнінде ұсынымдар"
       " әзірлеу",
       "Analysing the teaching-upbringing process and methodical work; recommending improvements"),
    _d("p.13", 4, UNIT,
       "анализ и рекомендация к публикации и распространению учебно-методической и научно-методической "
       "продукции",
       "оқу-әдістемелік және ғылыми-әдістемелік өнімді талдау және оны жариялауға және таратуға ұсыну",
       "Reviewing and recommending methodical products for publication and dissemination"),
    # p.33: educational-methodical unions (УМО) of TVET and post-secondary education
    _d("p.33", 1, UNION,
       "проведение работы по подготовке государственных общеобязательных стандартов по специальностям "
       "технического и профессионального образования, послесреднего образования, типовых учебных планов и "
       "типовых учебных программ, учебно-методических пособий, учебников, учебно-методических комплексов и "
       "электронных учебников",
       "техникалық және кәсіптік білім беру, орта білімнен кейінгі білім беру мамандықтары бойынша "
       "мемлекеттік жалпыға міндетті стандарттарды, үлгілік оқу жоспарлары мен үлгілік оқу бағдарламаларын, "
       "оқу-әдістемелік құралдарды, оқулықтарды, оқу-әдістемелік кешендер мен электрондық оқулықтарды "
       "дайындау жөнінде жұмыс жүргізу",
       "Preparing standards, model curricula and syllabi, textbooks and methodical complexes"),
    _d("p.33", 2, UNION,
       "организация и проведение конференций, семинаров по совершенствованию учебно-воспитательного процесса "
       "в организациях технического и профессионального образования, послесреднего образования",
       "техникалық және кәсіптік білім беру, орта білімнен кейінгі білім беру ұйымдарында оқу-тәрбие "
       "процесін жетілдіру жөнінде конференциялар, семинарлар ұйымдастыру және өткізу",
       "Conferences and seminars on improving the educational process in colleges"),
    _d("p.33", 3, UNION,
       "организация разработки учебно-методических пособий по учебным дисциплинам технического и "
       "профессионального образования, послесреднего образования",
       "техникалық және кәсіптік білім беру, орта білімнен кейінгі білім берудің оқу пәндері бойынша "
       "оқу-әдістемелік құралдарды әзірлеуді ұйымдастыру",
       "Organising development of methodical manuals for TVET and post-secondary disciplines"),
    _d("p.33", 4, UNION,
       "разработка предложений и методических рекомендаций по внедрению современных технологий обучения, "
       "контроля знаний и информатизации учебного процесса",
       "оқытудың, білімді бақылаудың заманауи технологияларын және оқу процесін ақпараттандыруды енгізу "
       "жөнінде ұсыныстар мен әдістемелік ұсынымдар әзірлеу",
       "Proposals and recommendations on modern teaching technologies, assessment and informatisation"),
    _d("p.33", 5, UNION,
       "изучение опыта организации деятельности учебно-методической работы в организациях технического и "
       "профессионального образования, послесреднего образования и подготовки предложений по ее "
       "совершенствованию",
       "техникалық және кәсіптік білім беру, орта білімнен кейінгі білім беру ұйымдарында оқу-әдістемелік "
       "жұмыс қызметін ұйымдастыру тәжірибесін зерделеу және оны жетілдіру жөнінде ұсыныстар дайындау",
       "Studying colleges' methodical work and proposing improvements"),
    _d("p.33", 6, UNION,
       "обобщение опыта организации научно-технического творчества обучающихся, организация и проведение "
       "конкурсов на лучшие курсовые и дипломные проекты, профессионального мастерства по специальностям",
       "білім алушылардың ғылыми-техникалық шығармашылығын ұйымдастыру тәжірибесін жинақтау, үздік курстық "
       "және дипломдық жобаларға, мамандықтар бойынша кәсіби шеберлікке конкурстар ұйымдастыру және өткізу",
       "Student technical creativity; contests for best projects and professional skills"),
    _d("p.33", 7, UNION,
       "внесение предложений для участия в международных, республиканских конференциях и прохождения "
       "стажировок преподавателей организаций образования по родственным профессиям и специальностям в "
       "республике, странах СНГ и дальнего зарубежья",
       "білім беру ұйымдары оқытушыларының халықаралық, республикалық конференцияларға қатысуы және "
       "республикада, ТМД елдерінде және алыс шетелдерде сабақтас кәсіптер мен мамандықтар бойынша "
       "тағылымдамадан өтуі үшін ұсыныстар енгізу",
       "Proposing teachers for conferences and internships at home and abroad"),
    _d("p.33", 8, UNION,
       "разработка рекомендации по организации профориентационной работы среди молодежи и незанятого "
       "населения",
       "жастар мен жұмыспен қамтылмаған халық арасында кәсіптік бағдар беру жұмысын ұйымдастыру жөнінде "
       "ұсынымдар әзірлеу",
       "Recommendations on career guidance for youth and the unemployed"),
    _d("p.33", 9, UNION,
       "участие в подготовке аналитических материалов о состоянии оценки обеспеченности учебно-методической "
       "литературой, педагогическими средствами обучения, учебно-лабораторным оборудованием, фильмами и "
       "современными средствами обучения",
       "оқу-әдістемелік әдебиетпен, оқытудың педагогикалық құралдарымен, оқу-зертханалық жабдықтармен, "
       "фильмдермен және оқытудың заманауи құралдарымен қамтамасыз етілуін бағалаудың жай-күйі туралы "
       "талдамалық материалдар дайындауға қатысу",
       "Analytical materials on provision of literature, teaching aids and equipment"),
    _d("p.33", 10, UNION,
       "методическое обеспечение курсов повышения квалификации специалистов технического и профессионального "
       "образования, послесреднего образования, организуемых на базе колледжей",
       "колледждер базасында ұйымдастырылатын техникалық және кәсіптік білім беру, орта білімнен кейінгі "
       "білім беру мамандарының біліктілігін арттыру курстарын әдістемелік қамтамасыз ету",
       "Methodical support of college-based professional development courses"),
    _d("p.33", 11, UNION,
       "создание информационного банка данных образовательных программ, организация мониторинга качества "
       "подготовки специалистов",
       "білім беру бағдарламаларының ақпараттық деректер банкін құру, мамандарды даярлау сапасына мониторинг"
       " ұйымдастыру",
       "Database of educational programmes; monitoring quality of specialist training"),
)

_BY_CODE: dict[str, Direction] = {d.code: d for d in DIRECTIONS}


def direction(code: str) -> Direction:
    """Return the direction with this code ("p.N.k"); raise UnknownDirection if there is none."""
    try:
        return _BY_CODE[code]
    except (KeyError, TypeError):
        raise UnknownDirection(code) from None


def directions_for(level: str | None = None) -> tuple[Direction, ...]:
    """Return the directions of one level in the Order's order, or all of them for None."""
    if level is None:
        return DIRECTIONS
    if level not in LEVELS:
        raise InvalidValue("No level %(level)r: one of %(levels)s.", field="level", level=level,
                           levels=", ".join(LEVELS))
    return tuple(d for d in DIRECTIONS if d.level == level)


def fits(code: str, tenant_kind: str) -> bool:
    """Return whether a work-plan or meeting item of a tenant of this kind may name the direction.

    It may name a direction of its own level, or one of the methodical units' (p.13), which
    every organization has (p.10). Union directions (p.33) are for union decisions only.
    """
    found = direction(code)
    if tenant_kind not in LEVEL_OF_TENANT_KIND:
        raise InvalidValue(
            "No tenant kind %(kind)r: one of %(kinds)s.", field="tenant_kind", kind=tenant_kind,
            kinds=", ".join(LEVEL_OF_TENANT_KIND)
        )
    return found.level in (LEVEL_OF_TENANT_KIND[tenant_kind], UNIT)
