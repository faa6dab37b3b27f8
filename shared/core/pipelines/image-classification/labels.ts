/** The ten Fashion-MNIST classes, in the order of the network's outputs (class index = position). */
export const CLOTHING_LABELS = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export type ClothingLabel = (typeof CLOTHING_LABELS)[number];
