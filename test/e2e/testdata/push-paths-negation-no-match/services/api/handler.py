def handle(request):
    return "ok"
