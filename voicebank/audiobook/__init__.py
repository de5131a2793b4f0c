"""The narrator: a book (EPUB, Markdown, TXT) → chapters → checked, resumable synthesis → M4B and chapter files.

Stages, one module each: reading (``read_*`` → :class:`.book.Book`), the editable script
(:mod:`.script`), planning chunks with content hashes (:mod:`.plan`), the chunk cache
(:mod:`.cache`), synthesis of one chunk with its checks and retries (:mod:`.synth`,
:mod:`.check`), running many chunks (:mod:`.local` processes or :mod:`.ray_runner`),
mastering (:mod:`.master`), files out (:mod:`.outputs`, :mod:`.acx`), the narration report
(:mod:`.report`), and the whole run (:mod:`.narrate`).
"""
