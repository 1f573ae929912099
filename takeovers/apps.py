import gc

from django.apps import AppConfig


class TakeoversConfig(AppConfig):
    name = "takeovers"

    def ready(self) -> None:
        # What a process has loaded by now (Django, the apps, their models: ~93% of daphne's
        # objects) lives as long as the process. Moved out of the collector's reach, a full
        # collection no longer walks it: those took 100-290 ms in daphne and in the workers
        # under the takeover benchmark, a host's takeover or cancel waiting behind each one.
        # daphne and the pool processes freeze again once they have loaded the rest
        # (`rooms.process.keep_loaded_for_life`).
        gc.freeze()
