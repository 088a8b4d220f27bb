"""The face parser's classes (BiSeNet, 16 classes, as Barbershop and HairCLIPv2 use it).

Kept apart from the network so that reading a painted mask needs no torch.
"""

N_CLASSES = 16
BACKGROUND, FACE, EAR, HAIR, CLOTH = 0, 1, 6, 10, 15
PAINTABLE_CLASSES = (BACKGROUND, FACE, EAR, HAIR)  # what a user may paint; the mask loss counts only these
