import factory

from apps.jobs.models import JobRun


class JobRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JobRun

    kind = "common.noop"
    parameters = factory.LazyFunction(dict)
    parameters_hash = factory.Sequence(lambda n: f"{n:064x}")
