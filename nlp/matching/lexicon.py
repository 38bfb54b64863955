"""A general trilingual lexicon: everyday words of needs and offers, in English, Italian, Swedish.

The concept vocabulary names what programmes are about; this lexicon bridges the ordinary words
around them ("streets", "strade", "gator"), so that two texts in different languages share words
even where no concept covers them. Each line is one word sense: the English, Italian and Swedish
forms, separated by ``|``; forms are separated by ``,``, and a trailing ``*`` means "any ending".
The first English form names the entry.
"""

# ruff: noqa: E501  (the lexicon is a table: one word sense per line)

from __future__ import annotations

from nlp.matching.concepts import Concept

ENTRIES = """
street, streets | strada, strade, via, vie | gata, gator, gatan, gatorna
square, squares, plaza | piazza, piazze | torg, torget
city, cities, town, towns, urban | città, urban*, cittadin* | stad, staden, städer, städerna, tätort*, stads*
village, villages | paese, paesi, borgo, borghi, frazion* | by, byar, byn, byarna
centre, center, downtown | centro | centrum
region, regions, regional, province | region*, provinc* | region*, regionen, län*
country, national | nazion* | land, landet, nation*
neighbourhood, neighborhood, district | quartier* | stadsdel*, kvarter*, grannskap*
resident*, inhabitant*, citizen* | residenti, abitanti, cittadini | invånare, invånarna, boende
people, person, persons | persone, persona, gente | människor, personer, person
family, families, relative* | famigli*, parenti, familiar* | familj*, anhörig*
child, children, kids | bambin*, figli | barn, barnen
pupil*, student* | alunn*, student*, scolar* | elev*, studenter
teacher* | insegnant*, docent* | lärare
elderly, older, seniors | anzian* | äldre, pensionär*
worker*, employee*, staff, personnel | lavorator*, operai, operaio, dipendent*, personale | arbetare, anställd*, personal, personalen
farmer*, grower* | agricolt*, contadin*, coltivator* | lantbrukar*, bönder, bonde, odlare
driver*, motorist* | conducent*, automobilist*, autist* | förare, förarna, bilist*
customer*, consumer*, shopper* | client*, consumator* | kund*, konsument*
visitor*, tourist*, hiker* | visitator*, turist*, escursionist* | besökare, turist*, vandrare
patient*, sick | pazient*, malat* | patient*, sjuk*
doctor*, physician*, gp, gps | medic*, dottor* | läkare, läkaren, doktor*
nurse*, nursing | infermier* | sjukskötersk*
animal*, wildlife | animal*, fauna | djur, djuren, vilt, viltet
deer, moose, elk, reindeer | cerv*, alce, renna, renne, caprio* | älg*, ren, renar, rådjur*, hjort*
tree*, trees | alber* | träd, träden, trädet
plant*, vegetation | piant*, vegetazion*, vegetal* | växt*, plantor*, vegetation*
leaf, leaves | foglia, foglie | blad, bladen
soil, ground, earth, land | suolo, terreno, terra, sottosuolo | mark, marken, jord, jorden
field*, meadow* | campi, campo, prati | fält*, åker, åkrar, äng*
forest*, woods | forest*, bosc* | skog*
river*, stream*, creek* | fium*, torrent*, corsi acqua | å, åar, älv*, bäck*, vattendrag
lake*, pond* | lag*, stagn* | sjö, sjön, sjöar, damm*
sea, ocean*, marine | mare, mari, ocean* | hav, havet, havs*
water | acqua, acque, idric* | vatten, vattnet
air | aria | luft, luften
heat, hot, warm*, heatwave* | calore, caldo, calda, caldi | värme, varm*, het*
cold, cool*, chill* | freddo, fredd*, fresco, fresche, freschi, raffresc* | kall*, kyl*, sval*
ice, frost, icing | ghiaccio, gelo, gelate | is, isen, frost
snow | neve | snö, snön
rain, rainfall, rainwater | piogg*, precipitazion* | regn*, nederbörd*
wind, winds | vento, venti, eolic* | vind, vinden, vind*
sun, sunlight, daylight | sole, solar*, luce solare | sol, solen, solljus, dagsljus
light, lights, lighting, lamp* | luce, luci, illuminazion*, lampad* | ljus, belysning*, lampor*
noise, noisy, sound*, acoustic* | rumor*, suono, suoni, acustic*, fonoassorb* | buller, bullret, ljud*, akustik*
smell*, odour*, odor* | odor*, puzza | lukt*
dust, particles | polver*, particel* | damm, partikl*, partiklar
smoke, fumes, flue | fumo, fumi | rök, rökgas*
fire, fires, burning | fuoco, incendi*, fiamm* | brand, bränder, eld
gas | gas | gas, gasen
fuel*, petrol, diesel | carburant*, benzina, gasolio | bränsle*, drivmedel*, bensin, diesel
electricity, electric*, power | elettric*, energia elettrica, corrente | el, elen, elektri*, ström, strömmen
energy | energia, energetic* | energi*
battery, batteries | batteri* | batteri*
engine*, motor* | motor* | motor*
machine*, machinery, equipment | macchin*, macchinari, attrezzatur* | maskin*, utrustning*
vehicle*, car, cars | veicol*, auto, automobil* | fordon*, bil, bilar, bilen
truck*, lorry, lorries | camion*, autocarr* | lastbil*
bus, buses | autobus, bus, pullman | buss, bussar, bussen
train*, railway* | tren*, ferrovi* | tåg, tågen, järnväg*
boat*, ship*, vessel*, ferry, ferries | barc*, nav*, battell*, traghett* | båt*, fartyg*, färj*
bicycle*, bike*, cyclist* | bicicl*, bici, ciclist* | cykel*, cyklar, cyklist*
road*, roadside | strad*, stradal* | väg, vägar, vägen, vägarna, vägkant*
path*, trail*, footpath* | sentier*, percors* | led, leder, lederna, stig*, vandringsled*
bridge*, viaduct* | pont*, viadott* | bro, broar, bron
house*, home*, dwelling* | cas*, abitazion* | hus, huset, husen, bostad*, bostäder, hem, hemmet
building*, premises | edific*, fabbricat* | byggnad*, fastighet*, lokal*
roof*, rooftop* | tett*, copertur* | tak, taket, taken
wall*, facade*, façade* | par*, muri, muro, muratur*, facciat* | vägg*, fasad*
window* | finestr*, serrament* | fönster, fönstren
floor*, pavement*, paving | pavimen* | golv*, beläggning*
room*, rooms, indoor* | stanz*, local*, ambient* interni | rum, rummet, inomhus
kitchen* | cucin* | kök, köket
restaurant*, cafe*, café* | ristorant*, locali, bar, trattori* | restaurang*, kafé*, krog*
shop*, store*, retail* | negozi*, punto vendita | butik*, affär*
supermarket* | supermercat* | mataffär*, stormarknad*
school* | scuol*, scolast* | skol*
hospital* | ospedal* | sjukhus*
clinic*, practice | ambulator*, clinic* | klinik*, vårdcentral*, mottagning*
farm*, farmland | aziend* agricol*, fattori*, cascin* | gård*, lantbruk*
factory, factories, plant, plants, mill, mills | fabbric*, stabiliment*, impiant* | fabrik*, bruk, bruket, anläggning*
workshop*, site* | officin*, cantier* | verkstad*, arbetsplats*
container*, box, boxes, bin, bins | contenitor*, scatol*, cassett*, cassonett* | behållare, låda, lådor, lådan, kärl, container*
bag*, sack* | sacch*, borsa, buste | påse, påsar, säck*
bottle* | bottigli* | flask*
cup*, glass*, mug* | bicchier*, tazz* | kopp*, mugg*
plate*, dish*, tableware, cutlery | piatt*, stoviglie, posate | tallrik*, servis*, bestick
film*, foil*, wrap* | pellicol*, film, fogli* | folie*, film*, plastfolie*
paper, cardboard | carta, cartone | papper*, kartong*, wellpapp
wood, wooden, timber | legno, legname | trä, virke*, timmer
metal*, steel, iron, aluminium | metall*, acciaio, ferro, allumini* | metall*, stål, järn, aluminium
glass | vetro | glas, glaset
plastic*, polymer* | plastic*, polimer* | plast*, polymer*
rubber | gomma | gummi
stone*, rock* | pietr*, rocc* | sten*, berg*
sand, gravel | sabbia, ghiaia | sand, grus
concrete, cement | calcestruzz*, cement* | betong*, cement*
clay, brick* | argilla, mattoni* | lera, tegel*
gypsum, plaster, plasterboard* | gesso, cartongesso | gips*
textile*, fabric*, clothes, clothing, garment*, apparel | tessil*, tessut*, abiti, abbigliamento, vestiti, indument*, capi | textil*, tyg*, kläder, klädesplagg, plagg
cotton | cotone | bomull*
wool | lana | ull
fibre*, fiber* | fibr* | fiber*, fibrer
insulation, insulating, insulate* | isolament*, isolant*, isolare, coibent* | isoler*, isolering*
food, foods, foodstuff* | cibo, cibi, aliment* | mat, maten, livsmedel*
meal*, lunch*, dinner* | past*, pranz*, cen* | måltid*, lunch*, middag*
milk, dairy, dairies, cheese | latte, latticin*, casear*, caseifici*, formagg* | mjölk*, mejeri*, ost, ostar
meat | carne, carni | kött*
fish | pesce, pesci, ittic* | fisk, fisken, fiskar
bread, bakery | pane, panetteri*, forno | bröd, bageri*
vegetable*, fruit* | verdur*, ortagg*, frutt* | grönsak*, frukt*
grain*, cereal*, flour | cereal*, grano, farin* | spannmål*, mjöl
sugar | zucchero | socker
coffee | caffè, caffe | kaffe
beer | birra | öl
wine | vino, vini | vin
forage, fodder, feed, silage | foragg*, mangim*, insilat* | foder, fodret, ensilage*
bale*, baling | ball*, rotoball* | bal, balar, balen, rundbal*
waste, wastes, garbage, rubbish, refuse, litter | rifiut*, scart*, spazzatura, immondizi* | avfall*, sopor, skräp*
data | dati, dato | data, datan, uppgifter
information, info | informazion* | information*
software, program, programme | software, programm* | programvar*, mjukvar*, program
app, apps, application* | app, applicazion* | app, appen, appar, applikation*
camera*, cameras | telecamer*, fotocamer* | kamera*, kameror
sensor*, detector* | sensor*, rilevator* | sensor*, givare, detektor*
screen*, display* | schermo, schermi, display | skärm*
phone*, smartphone*, mobile | telefon*, cellular*, smartphone | telefon*, mobil*, mobiltelefon*
computer* | computer, calcolator* | dator*, datorn
network*, grid | ret*, network | nät, nätet, nätverk*
signal*, sign, signs | segnal*, cartell* | signal*, skylt*
map*, mapping | mapp*, cartin*, cartograf* | karta, kartor, kartlägg*
image*, picture*, photo*, imagery | immagin*, foto | bild*, foto*
video*, film | video, filmat* | video*, film
test*, trial*, pilot*, experiment* | test*, prov*, sperimentaz*, speriment*, pilot* | test*, prov*, försök*, pilot*
measure*, measurement*, metering, gauge* | misur* | mät*, mätning*
quality | qualità | kvalitet*
cost*, costs, price*, expensive, cheap | cost*, prezz*, economic* | kostnad*, pris*, billig*, dyr*
money, financing, funding | denaro, soldi, finanziament* | pengar, finansiering*
hours, hour | ore | timmar, timme
weight, weighing, scales | peso, pesare, bilanc* | vikt, väga, våg, vågar
size, dimensions | dimension*, taglia | storlek*
temperature*, degree*, degrees | temperatur*, grad* | temperatur*, grader
pressure | pression* | tryck*
speed, fast, quick*, rapid* | velocità, veloce, rapid* | snabb*, fort
health, healthy | salute, sanitar* | hälsa, hälso*
disease*, illness*, infection* | malatti*, infezion* | sjukdom*, infektion*
symptom* | sintom* | symptom*
pain | dolor* | smärt*, ont
memory | memoria | minne*
thinking, cognitive, cognition | cognitiv* | kognitiv*, tankeförmåga
sleep | sonno | sömn*
stress | stress | stress*
safety, safe, security | sicurezza, sicur* | säkerhet*, säker*, trygg*
risk*, danger*, hazard* | risch*, pericol* | risk*, fara, farlig*
accident*, crash*, collision* | incident*, collision*, urt* | olyck*, kollision*, krock*
damage*, harm | dann*, danneggi* | skad*
leak*, leakage* | perdit*, fuga, fughe | läck*, läckage*, läckor
crack*, fissure* | crep*, fessur* | sprick*
hole*, cavity, cavities, void*, sinkhole* | buc*, cavità, vuoti, voragin* | hål, hålrum*, håligheter
wear, worn | usura | slitage, slit*
defect*, fault*, flaw* | difett*, guast* | defekt*, fel
failure*, breakdown* | rottur*, guast* | haveri*, avbrott*
repair*, fix* | ripar*, aggiust* | reparer*, laga*
maintenance, upkeep | manutenzion* | underhåll*
cleaning, clean*, wash* | pulizi*, pulire, lavagg*, lavare | rengör*, städ*, tvätt*, disk, rent, ren
reduce*, reduction, cut, lower*, decrease* | ridur*, riduzion*, abbass*, diminu*, taglia* | minska*, sänka*, sänker, dämpa*
increase*, raise*, boost* | aument*, increment* | öka*, höja*
save*, saving*, savings | risparmi* | spara*, besparing*
avoid*, prevent* | evitar*, prevenir*, impedir* | undvika, förhindra*, förebygg*
detect*, detection, spot*, identify*, recognise*, recognize*, find*, locate* | rilev*, individu*, riconosc*, trovar*, localizz*, scopr* | upptäck*, hitta*, identifier*, känna igen, lokaliser*
monitor*, track*, follow* | monitor*, seguir*, tracci* | övervak*, följ*, spåra*
predict*, forecast*, anticipate* | preved*, prevision* | förutse*, förutsäg*, prognos*
warn*, alert*, alarm* | avvis*, allert*, allarm*, avvert* | varn*, larm*
count*, counter* | cont*, conteggi* | räkn*
measure | misurar* | mäta
sort*, separate*, separation | selezion*, separ*, smist* | sorter*, separer*
collect*, collection, gather* | raccol*, raccogli* | samla*, insaml*
recycle*, recycling, recycled | ricicl* | återvinn*, återvunn*
reuse*, reusable, reused, refill* | riutilizz*, riusa*, riuso | återanvänd*, återbruk*
replace*, substitut*, instead | sostitu* | ersätt*, i stället
store*, storage | immagazzin*, accumul*, conserv*, stoccagg* | lagra*, lagring*, förvar*
share*, sharing, shared | condivi* | dela, delning*, delad*
sell*, sale* | vend* | sälj*, försälj*
buy*, purchase* | acquist*, compra* | köp*, inköp*
rent*, borrow*, lend* | noleggi*, prest* | hyr*, låna*, lånar
return*, bring back | restitu*, rend* | returer*, lämna tillbaka, retur*
deposit*, refund* | cauzion*, vuoto a rendere | pant, panten
deliver*, delivery, deliveries | consegn* | leverer*, leverans*
transport*, carry, move*, moving | trasport*, spost* | transport*, frakt*, flytt*, förflytt*
produce*, production, manufacture* | produ*, fabbric* | produc*, produktion*, tillverk*
build*, construct* | costru*, edific* | bygg*, anlägg*
design*, plan*, planning | progett*, pianific* | projekter*, planer*, utform*
install*, installation* | install* | install*, monter*
protect*, protection, shield* | protegg*, protezion* | skydd*
heat*, heating, warm | riscald* | värm*, uppvärmning*
cool*, cooling, chill* | raffredd*, raffresc* | kyl*, svalka
dry, drying, drought | secc*, asciug* | torr*, tork*
treat*, treatment* | tratt*, curar* | behandl*
train*, training, exercise* | allen*, eserciz*, formazion* | träna*, träning*, övning*
learn*, education, teach* | impar*, insegn*, istruzion* | lär*, utbildning*, undervis*
job*, work, employment | lavor*, occupazion*, impieg* | jobb*, arbete*, anställning*
help*, assist*, support* | aiut*, assist*, support* | hjälp*, stöd*
care, caring, carer* | cura, cure, assistenz* | vård*, omsorg*
home, at home, domestic | casa, domicil*, domestic* | hemma, hemmet, hemmen, i hemmet
remote*, distance | distanza, remoto | distans*, fjärr*
automatic*, automated, automation | automatic*, automatizz* | automatisk*, automatiser*
robot*, robotic* | robot* | robot*
digital, online, internet | digital*, online, internet | digital*, nätet, internet
natural, nature | natural*, natura | natur*
local, locally, nearby | local*, vicin* | lokal*, närliggande, närheten
public | pubblic* | offentlig*, allmän*
private | privat* | privat*
small | piccol* | liten, litet, små, mindre
large, big, heavy | grand*, pesant* | stor*, tung*
new, modern | nuov*, modern* | ny, nya, nytt, modern*
old, ageing, aging, obsolete | vecchi*, antic*, obsolet* | gammal, gamla, äldre, åldr*
early, earlier | precoc*, presto, prima, tempestiv* | tidig*, tidigt, tidigare
late, delay* | tard*, ritard* | sen, sent, sena, försen*
night, dark*, darkness | nott*, buio | natt*, mörk*, mörker
daily, everyday | giornalier*, quotidian* | dagligen, dagliga, daglig
summer* | estat*, estiv* | sommar*, somrar
winter* | invern* | vinter*, vintern
mountain*, alpine, hill* | montagn*, alpin*, collin*, valle, valli | fjäll*, berg*, backe*
coast*, shore, island*, archipelago | cost*, isol*, arcipelag* | kust*, ö, öar, skärgård*
park*, reserve*, protected area* | parco, parchi, riserv*, aree protette | park*, naturreservat*, naturområde*
tourism, tourist* | turism*, turist* | turism*, turist*
number*, quantity | numer*, quantità | antal*, mängd*
statistic*, figures | statistic*, dati | statistik*
cancer, oncology, tumour*, tumor*, chemotherapy | cancro, tumor*, oncolog*, chemioterapi* | cancer*, tumör*, onkolog*, cellgift*, cytostatika
dementia | demenz* | demens*
sepsis | sepsi | sepsis
heart* | cuore, cardi* | hjärt*
breath*, breathing, respirat* | respir* | andning*, andas
blood | sangue | blod*
medicine*, drug*, pharmacy, pharmacies | farmac*, medicinal* | läkemedel*, apotek*
side effects | effetti collaterali | biverkning*
vital signs | parametri vitali | vitalparametr*
deterioration, worsen*, get worse | peggior* | försämr*
""".strip()


def _entries() -> tuple[Concept, ...]:
    entries: dict[str, Concept] = {}
    for number, line in enumerate(ENTRIES.splitlines(), start=1):
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) != 3 or not all(cells):
            raise ValueError(f"lexicon line {number}: three languages needed: {line!r}")
        en, it, sv = cells
        name = en.split(",")[0].strip().rstrip("*")
        key = name.replace(" ", "_")
        while key in entries:
            key += "_"
        labels = {
            lang: cell.split(",")[0].strip().rstrip("*")
            for lang, cell in (("en", en), ("it", it), ("sv", sv))
        }
        entries[key] = Concept(
            id=key,
            topics=(),
            family=None,
            labels=labels,
            patterns={"en": _split(en), "it": _split(it), "sv": _split(sv)},
        )
    return tuple(entries.values())


def _split(cell: str) -> tuple[str, ...]:
    return tuple(form.strip() for form in cell.split(",") if form.strip())


LEXICON: tuple[Concept, ...] = _entries()
