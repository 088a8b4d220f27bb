"""``hairedit eval``: the metrics hair-editing papers report, for one edit, a batch, or presets.

- :mod:`.identity`: dlib face-recognition embeddings (no download);
- :mod:`.pixels`: PSNR, SSIM and LPIPS outside the edit region;
- :mod:`.agreement`: colour (CIEDE2000), text (CLIP score), shape (mask IoU, sketch coverage);
- :mod:`.sets`: means with 95% intervals, FID and FID_CLIP;
- :mod:`.measure`: all of them for one edit (:class:`EditEvaluator`);
- :mod:`.runs`, :mod:`.compare`: where the edits come from (manifests: :mod:`hairedit.batch.manifest`);
- :mod:`.report`, :mod:`.plots`: tables, JSON and the HTML report;
- :mod:`.commands`: the command line.
"""
