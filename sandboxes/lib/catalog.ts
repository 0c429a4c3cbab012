/**
 * Realistic-looking names for generated bank data: merchants (with ISO 18245 merchant category
 * codes and typical ticket sizes in major units), employers, landlords, utilities, people.
 * All of them are fictional or generic; any resemblance to a real account is accidental.
 */
export type CatalogCurrency = 'GBP' | 'EUR';

export interface Merchant {
  name: string;
  mcc: string;
  city: string;
  min: number;
  max: number;
  weight: number;
  online?: boolean;
}

export const MERCHANTS: Record<CatalogCurrency, Merchant[]> = {
  GBP: [
    { name: 'TESCO STORES 3297', mcc: '5411', city: 'LONDON', min: 4, max: 85, weight: 10 },
    { name: "SAINSBURY'S SUPERMARKET", mcc: '5411', city: 'LONDON', min: 5, max: 90, weight: 8 },
    { name: 'LIDL GB', mcc: '5411', city: 'LONDON', min: 4, max: 60, weight: 4 },
    { name: 'WAITROSE 812', mcc: '5411', city: 'ISLINGTON', min: 6, max: 95, weight: 3 },
    { name: 'PRET A MANGER', mcc: '5814', city: 'LONDON', min: 3, max: 12, weight: 8 },
    { name: 'COSTA COFFEE 43021', mcc: '5814', city: 'LONDON', min: 2.5, max: 8, weight: 7 },
    { name: 'GREGGS 1180', mcc: '5814', city: 'LEEDS', min: 2, max: 9, weight: 5 },
    { name: 'TFL TRAVEL CHARGE', mcc: '4111', city: 'TFL.GOV.UK/CP', min: 1.75, max: 9, weight: 9 },
    { name: 'TRAINLINE', mcc: '4112', city: 'LONDON', min: 12, max: 95, weight: 2, online: true },
    { name: 'DELIVEROO', mcc: '5812', city: 'LONDON', min: 12, max: 45, weight: 4, online: true },
    { name: 'WAGAMAMA 114', mcc: '5812', city: 'LONDON', min: 14, max: 48, weight: 3 },
    { name: 'PIZZA EXPRESS', mcc: '5812', city: 'LEEDS', min: 18, max: 55, weight: 2 },
    { name: 'AMAZON.CO.UK*2K4PL0', mcc: '5999', city: 'AMAZON.CO.UK', min: 5, max: 120, weight: 6, online: true },
    { name: 'BOOTS 1024', mcc: '5912', city: 'LONDON', min: 3, max: 40, weight: 4 },
    { name: 'UBER *TRIP', mcc: '4121', city: 'HELP.UBER.COM', min: 6, max: 35, weight: 4, online: true },
    { name: 'ODEON CINEMAS', mcc: '7832', city: 'LONDON', min: 9, max: 28, weight: 2 },
    { name: 'SHELL ISLINGTON', mcc: '5541', city: 'LONDON', min: 25, max: 80, weight: 2 },
    { name: 'WATERSTONES', mcc: '5942', city: 'LONDON', min: 8, max: 30, weight: 2 },
  ],
  EUR: [
    { name: 'REWE Markt GmbH', mcc: '5411', city: 'Berlin', min: 4, max: 90, weight: 10 },
    { name: 'EDEKA Center', mcc: '5411', city: 'Berlin', min: 4, max: 80, weight: 6 },
    { name: 'LIDL Dienstleistung', mcc: '5411', city: 'Berlin', min: 3, max: 60, weight: 5 },
    { name: 'ALDI SUED', mcc: '5411', city: 'Koeln', min: 3, max: 55, weight: 4 },
    { name: 'Kaufland', mcc: '5411', city: 'Berlin', min: 5, max: 70, weight: 3 },
    { name: 'dm-drogerie markt', mcc: '5912', city: 'Berlin', min: 3, max: 35, weight: 5 },
    { name: 'ROSSMANN', mcc: '5912', city: 'Berlin', min: 3, max: 30, weight: 3 },
    { name: 'BVG Berlin', mcc: '4111', city: 'Berlin', min: 3, max: 10, weight: 6 },
    { name: 'DB Vertrieb GmbH', mcc: '4112', city: 'Frankfurt', min: 15, max: 120, weight: 2, online: true },
    { name: 'Lieferando.de', mcc: '5812', city: 'Berlin', min: 14, max: 45, weight: 4, online: true },
    { name: 'Vapiano', mcc: '5812', city: 'Berlin', min: 12, max: 40, weight: 2 },
    { name: 'Starbucks Coffee', mcc: '5814', city: 'Berlin', min: 3, max: 9, weight: 5 },
    { name: 'BackWerk', mcc: '5814', city: 'Koeln', min: 2, max: 8, weight: 5 },
    { name: 'AMAZON EU S.A R.L.', mcc: '5999', city: 'Luxembourg', min: 6, max: 130, weight: 5, online: true },
    { name: 'ZALANDO SE', mcc: '5651', city: 'Berlin', min: 20, max: 140, weight: 2, online: true },
    { name: 'MediaMarkt', mcc: '5732', city: 'Berlin', min: 15, max: 200, weight: 1 },
    { name: 'IKEA Deutschland', mcc: '5712', city: 'Berlin', min: 10, max: 180, weight: 1 },
    { name: 'Shell Deutschland', mcc: '5541', city: 'Berlin', min: 25, max: 85, weight: 2 },
  ],
};

export interface Subscription {
  name: string;
  mcc: string;
  city: string;
  amount: number;
}

export const SUBSCRIPTIONS: Record<CatalogCurrency, Subscription[]> = {
  GBP: [
    { name: 'NETFLIX.COM', mcc: '4899', city: 'LOS GATOS', amount: 10.99 },
    { name: 'SPOTIFY', mcc: '5815', city: 'STOCKHOLM', amount: 11.99 },
    { name: 'APPLE.COM/BILL', mcc: '5818', city: 'CORK', amount: 2.99 },
    { name: 'AMAZON PRIME*2F0', mcc: '5968', city: 'AMAZON.CO.UK', amount: 8.99 },
  ],
  EUR: [
    { name: 'NETFLIX.COM', mcc: '4899', city: 'Amsterdam', amount: 13.99 },
    { name: 'Spotify AB', mcc: '5815', city: 'Stockholm', amount: 10.99 },
    { name: 'APPLE.COM/BILL', mcc: '5818', city: 'Cork', amount: 2.99 },
    { name: 'DAZN Limited', mcc: '4899', city: 'London', amount: 29.99 },
  ],
};

export interface DirectDebit {
  name: string;
  min: number;
  max: number;
  dayOfMonth: number;
}

export const DIRECT_DEBITS: Record<CatalogCurrency, DirectDebit[]> = {
  GBP: [
    { name: 'OCTOPUS ENERGY', min: 70, max: 150, dayOfMonth: 5 },
    { name: 'EE LIMITED', min: 18, max: 45, dayOfMonth: 8 },
    { name: 'PUREGYM LTD', min: 24.99, max: 24.99, dayOfMonth: 3 },
    { name: 'COUNCIL TAX', min: 128, max: 156, dayOfMonth: 15 },
    { name: 'THAMES WATER', min: 32, max: 44, dayOfMonth: 18 },
    { name: 'AVIVA INSURANCE', min: 21.5, max: 21.5, dayOfMonth: 11 },
  ],
  EUR: [
    { name: 'Vattenfall Europe Sales GmbH', min: 62, max: 110, dayOfMonth: 2 },
    { name: 'Telekom Deutschland GmbH', min: 39.95, max: 49.95, dayOfMonth: 9 },
    { name: 'McFIT GmbH', min: 29.9, max: 29.9, dayOfMonth: 1 },
    { name: 'Allianz Versicherungs-AG', min: 24.5, max: 24.5, dayOfMonth: 14 },
    { name: 'Berliner Wasserbetriebe', min: 28, max: 36, dayOfMonth: 17 },
    { name: 'ARD ZDF Deutschlandradio Beitragsservice', min: 18.36, max: 18.36, dayOfMonth: 15 },
  ],
};

export const EMPLOYERS: Record<CatalogCurrency, string[]> = {
  GBP: [
    'BRIGHTWAVE ANALYTICS LTD',
    'HARBOUR FREIGHT LOGISTICS LTD',
    'NORTHGATE HEALTH TRUST',
    'KESTREL DESIGN STUDIO LTD',
  ],
  EUR: ['Rhein Software GmbH', 'Spree Design Studio GmbH', 'Nordlicht Logistik AG', 'Lindenhof Klinikum gGmbH'],
};

export const LANDLORDS: Record<CatalogCurrency, string[]> = {
  GBP: ['PARKSIDE LETTINGS LTD', 'CANAL VIEW PROPERTIES', 'FOXTON ESTATES LTD'],
  EUR: ['Hausverwaltung Schmidt GmbH', 'Wohnbau Mitte eG', 'Immobilien Keller KG'],
};

export const PEOPLE: Record<CatalogCurrency, string[]> = {
  GBP: [
    'SOPHIE TURNER',
    'JAMES OKORO',
    'PRIYA SHAH',
    'TOM HUGHES',
    'EMMA WILSON',
    'LIAM MURPHY',
    'AISHA KHAN',
    'OLIVER BROWN',
  ],
  EUR: [
    'Lena Fischer',
    'Jonas Becker',
    'Mia Schneider',
    'Paul Wagner',
    'Hannah Hoffmann',
    'Felix Schulz',
    'Emilia Koch',
    'Lukas Richter',
  ],
};

export const TRANSFER_NOTES: Record<CatalogCurrency, string[]> = {
  GBP: ['DINNER', 'RENT SHARE', 'BIRTHDAY GIFT', 'CONCERT TICKETS', 'HOLIDAY', 'THANKS', 'BILLS', 'TAXI'],
  EUR: ['Abendessen', 'Miete Anteil', 'Geburtstag', 'Konzertkarten', 'Urlaub', 'Danke', 'Nebenkosten', 'Taxi'],
};

export const RETURN_REASONS = ['Beneficiary account closed', 'Account number invalid', 'Beneficiary name mismatch'];
export const CHARGEBACK_REASONS = ['Goods not received', 'Duplicate card payment', 'Cancelled recurring transaction'];
