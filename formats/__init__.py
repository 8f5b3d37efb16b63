"""Wire formats rendered by more than one package (Lync compliance XML, XML text escaping)."""
