/**
 * Plain sentences the relay mixes into fresh language-identification canary
 * inputs, a few per language lande tells apart. Written for this project;
 * everyday topics, so a canary reads like something a person would ask about.
 */
import type { LanguageCode } from '#core/pipelines/language-id/labels.ts';

export const CANARY_SENTENCES: Readonly<Partial<Record<LanguageCode, readonly string[]>>> = {
  eng: [
    'The bakery on the corner opens early on Saturday mornings.',
    'We missed the last bus and had to walk home through the rain.',
    'Could you send me the photos from the weekend when you have time?',
    'My sister is learning to play the violin this winter.',
    'The meeting has been moved to Thursday afternoon after lunch.',
  ],
  fra: [
    'La boulangerie du coin ouvre tôt le samedi matin.',
    'Nous avons raté le dernier bus et sommes rentrés à pied sous la pluie.',
    'Peux-tu m’envoyer les photos du week-end quand tu auras le temps ?',
    'Ma sœur apprend à jouer du violon cet hiver.',
    'La réunion a été déplacée à jeudi après le déjeuner.',
  ],
  deu: [
    'Die Bäckerei an der Ecke öffnet samstags schon sehr früh.',
    'Wir haben den letzten Bus verpasst und sind im Regen nach Hause gelaufen.',
    'Kannst du mir die Fotos vom Wochenende schicken, wenn du Zeit hast?',
    'Meine Schwester lernt in diesem Winter Geige spielen.',
    'Die Besprechung wurde auf Donnerstagnachmittag verschoben.',
  ],
  spa: [
    'La panadería de la esquina abre temprano los sábados por la mañana.',
    'Perdimos el último autobús y tuvimos que volver a casa bajo la lluvia.',
    '¿Puedes enviarme las fotos del fin de semana cuando tengas tiempo?',
    'Mi hermana está aprendiendo a tocar el violín este invierno.',
    'La reunión se ha trasladado al jueves por la tarde.',
  ],
  ita: [
    'Il panificio all’angolo apre presto il sabato mattina.',
    'Abbiamo perso l’ultimo autobus e siamo tornati a casa sotto la pioggia.',
    'Puoi mandarmi le foto del fine settimana quando hai tempo?',
    'Mia sorella sta imparando a suonare il violino quest’inverno.',
    'La riunione è stata spostata a giovedì pomeriggio dopo pranzo.',
  ],
  nld: [
    'De bakkerij op de hoek gaat op zaterdagochtend vroeg open.',
    'We hebben de laatste bus gemist en zijn in de regen naar huis gelopen.',
    'Kun je me de foto’s van het weekend sturen als je tijd hebt?',
    'Mijn zus leert deze winter viool spelen.',
    'De vergadering is verplaatst naar donderdagmiddag na de lunch.',
  ],
  por: [
    'A padaria da esquina abre cedo aos sábados de manhã.',
    'Perdemos o último ônibus e tivemos que voltar para casa na chuva.',
    'Você pode me mandar as fotos do fim de semana quando tiver tempo?',
    'Minha irmã está aprendendo a tocar violino neste inverno.',
    'A reunião foi transferida para quinta-feira à tarde.',
  ],
  swe: [
    'Bageriet på hörnet öppnar tidigt på lördagsmorgnarna.',
    'Vi missade sista bussen och fick gå hem genom regnet.',
    'Kan du skicka bilderna från helgen när du har tid?',
    'Min syster lär sig spela fiol i vinter.',
    'Mötet har flyttats till torsdag eftermiddag efter lunch.',
  ],
  pol: [
    'Piekarnia na rogu otwiera się wcześnie w sobotnie poranki.',
    'Spóźniliśmy się na ostatni autobus i wracaliśmy do domu w deszczu.',
    'Czy możesz mi wysłać zdjęcia z weekendu, kiedy znajdziesz chwilę?',
    'Moja siostra uczy się tej zimy grać na skrzypcach.',
    'Spotkanie zostało przeniesione na czwartek po południu.',
  ],
  tur: [
    'Köşedeki fırın cumartesi sabahları erkenden açılıyor.',
    'Son otobüsü kaçırdık ve yağmurda eve yürümek zorunda kaldık.',
    'Vaktin olduğunda hafta sonunun fotoğraflarını bana gönderebilir misin?',
    'Kız kardeşim bu kış keman çalmayı öğreniyor.',
    'Toplantı perşembe öğleden sonraya ertelendi.',
  ],
};
