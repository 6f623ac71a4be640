from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def ingest_traces(request):
    # Placeholder until OTLP ingestion lands (issue: Traces).
    return HttpResponse(status=501)
