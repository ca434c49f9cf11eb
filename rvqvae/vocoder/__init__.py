"""Log-mel -> audio: Griffin-Lim (:mod:`.griffinlim`), the trained Vocos-style generator
(:mod:`.model`, :mod:`.checkpoint`) and the one synthesis entry point every mel -> audio step
uses (:mod:`.synthesize`: ``vocoder=auto|griffinlim|PATH``)."""
