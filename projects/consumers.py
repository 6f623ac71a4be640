from channels.generic.websocket import AsyncJsonWebsocketConsumer


class ProjectsConsumer(AsyncJsonWebsocketConsumer):
    pass
